"""The connection forms of both connection types, declared once.

Airflow 3.2 and later read the fields from the provider info (``conn-fields``, ``ui-field-behaviour``); Airflow 2.11,
3.0 and 3.1 ask the hook class (``get_connection_form_widgets``, ``get_ui_field_behaviour``). Both are made from the
declarations here, so every Airflow shows the same fields.
"""

from __future__ import annotations

from typing import Any

_COMMON_FIELDS: dict[str, dict[str, Any]] = {
    "max_calls_per_minute": {
        "label": "Max calls per minute",
        "description": "Client-side rate limit for this credential (0 = none; default: the API's documented rate)",
        "schema": {"type": ["number", "null"]},
    },
    "verify_ssl": {
        "label": "Verify TLS certificates",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
    "max_retries": {
        "label": "Max retries",
        "description": "Retries of a throttled (429) or failed (5xx, cut connection) call (default 5)",
        "schema": {"type": ["integer", "null"], "minimum": 0},
    },
    "retry_base_delay": {
        "label": "Retry base delay (s)",
        "description": "First back-off between retries, doubled each time (default 1)",
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
    "retry_max_delay": {
        "label": "Retry max delay (s)",
        "description": "Longest wait between retries; a longer wait asked by the API fails the call (default 120)",
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
    "proxy": {
        "label": "Proxy URL",
        "description": "HTTP(S) proxy for every call, e.g. http://proxy.internal:3128 (default: HTTPS_PROXY / NO_PROXY)",
        "schema": {"type": ["string", "null"]},
    },
    "rate_limit_storage": {
        "label": "Shared rate-limit storage",
        "description": "A storage URL such as redis://redis:6379/2: one rate limit per credential for every process "
        "of the deployment (default: [report_provider] rate_limit_storage, else per process)",
        "schema": {"type": ["string", "null"]},
    },
}

#: connection type -> extra fields (name -> label, description, JSON schema), as the provider info declares them.
CONN_FIELDS: dict[str, dict[str, dict[str, Any]]] = {
    "criteo_mpo": {
        "api_version": {
            "label": "API version",
            "description": "preview (default), experimental, or a dated version such as 2027-01",
            "schema": {"type": ["string", "null"], "default": "preview"},
        },
        **_COMMON_FIELDS,
    },
    "walmart_marketplace": {
        "service_name": {
            "label": "Service name (WM_SVC.NAME)",
            "schema": {"type": ["string", "null"], "default": "Walmart Marketplace"},
        },
        "channel_type": {
            "label": "Channel type (WM_CONSUMER.CHANNEL.TYPE)",
            "description": "For solution providers; leave empty otherwise",
            "schema": {"type": ["string", "null"]},
        },
        "market": {
            "label": "Market (WM_MARKET)",
            "description": "us, ca, mx or cl; leave empty for the US marketplace",
            "schema": {
                "type": ["string", "null"],
                "enum": [None, "us", "ca", "mx", "cl"],
                # The UI labels each choice through values_display; the empty one is keyed "null".
                "values_display": {"null": "US (default)", "us": "US", "ca": "Canada", "mx": "Mexico", "cl": "Chile"},
            },
        },
        **_COMMON_FIELDS,
    },
}


def _standard_fields(host: str, credentials_of: str) -> dict[str, Any]:
    """Both types hide schema and port, and relabel host, login and password the same way."""
    return {
        "hidden-fields": ["schema", "port"],
        "relabeling": {"host": "API base URL", "login": "Client ID", "password": "Client secret"},
        "placeholders": {
            "host": host,
            "login": f"your {credentials_of} client id",
            "password": f"your {credentials_of} client secret",
        },
    }


#: connection type -> hidden, relabelled and placeholder standard fields (provider-info spelling).
UI_FIELD_BEHAVIOUR: dict[str, dict[str, Any]] = {
    "criteo_mpo": _standard_fields("https://api.criteo.com", "Criteo application's"),
    "walmart_marketplace": _standard_fields("https://marketplace.walmartapis.com", "Walmart Marketplace"),
}


def form_widgets(conn_type: str) -> dict[str, Any]:
    """The extra fields as WTForms fields, for Airflow before 3.2 (``get_connection_form_widgets``).

    Only ``wtforms`` is needed (the widget classes of Flask-AppBuilder are used when it is installed): Airflow 3.0
    and 3.1 stand in for both while they build the UI's form from these.
    """
    from wtforms import BooleanField, IntegerField, StringField

    try:
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget

        text_widget: dict[str, Any] = {"widget": BS3TextFieldWidget()}
    except ImportError:
        text_widget = {}
    widgets: dict[str, Any] = {}
    for name, field in CONN_FIELDS[conn_type].items():
        types = field["schema"].get("type", "string")
        kind = next(t for t in ([types] if isinstance(types, str) else types) if t != "null")
        description = field.get("description", "")
        if "enum" in field["schema"]:
            choices = ", ".join(str(v) for v in field["schema"]["enum"] if v is not None)
            description = f"{description} ({choices})" if description else choices
        options: dict[str, Any] = {"description": description}
        if "default" in field["schema"]:
            options["default"] = field["schema"]["default"]
        if kind == "boolean":
            widgets[name] = BooleanField(field["label"], **options)
        elif kind == "integer":
            widgets[name] = IntegerField(field["label"], **text_widget, **options)
        else:  # strings, and numbers that may be fractional (a StringField keeps "0.5")
            widgets[name] = StringField(field["label"], **text_widget, **options)
    return widgets


def field_behaviour(conn_type: str) -> dict[str, Any]:
    """The standard fields' behaviour in the hooks' spelling, for Airflow before 3.2 (``get_ui_field_behaviour``)."""
    return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR[conn_type].items()}


def connection_form(conn_type: str) -> tuple[classmethod, classmethod]:
    """``get_connection_form_widgets`` and ``get_ui_field_behaviour`` for a hook class of ``conn_type``.

    Airflow reads them from the class's own ``__dict__`` (not inherited), so each concrete hook assigns them.
    """
    return classmethod(lambda cls: form_widgets(conn_type)), classmethod(lambda cls: field_behaviour(conn_type))
