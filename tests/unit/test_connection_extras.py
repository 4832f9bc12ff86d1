"""Every connection extra a hook reads is declared in the provider's conn-fields and validated naming the field."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_report_provider.common.exceptions import ReportValidationError
from airflow_report_provider.get_provider_info import get_provider_info
from airflow_report_provider.hooks.base import ConnectionSettings
from airflow_report_provider.hooks.criteo_mpo import CriteoMpoAsyncHook, CriteoMpoHook
from airflow_report_provider.hooks.walmart import WalmartMarketplaceAsyncHook, WalmartMarketplaceHook

HOOKS = {"criteo_mpo": CriteoMpoHook, "walmart_marketplace": WalmartMarketplaceHook}


class ReadRecorder(dict):
    """A connection's extra that remembers every key read from it (observation only)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        self.read.add(key)
        return super().__contains__(key)


def conn(extra: dict) -> SimpleNamespace:
    return SimpleNamespace(host="http://127.0.0.1:1", port=None, login="id", password="secret", extra_dejson=extra)


def conn_fields(conn_type: str) -> dict:
    return next(c for c in get_provider_info()["connection-types"] if c["connection-type"] == conn_type)["conn-fields"]


@pytest.mark.parametrize("conn_type", sorted(HOOKS))
def test_every_extra_the_hooks_read_is_declared(conn_type):
    hook = HOOKS[conn_type]()
    extra = ReadRecorder()
    settings = hook._configure(conn(extra))
    hook.build_protocol(settings)
    assert extra.read and extra.read <= set(conn_fields(conn_type))


@pytest.mark.parametrize("conn_type", sorted(HOOKS))
def test_every_declared_extra_is_parsed(conn_type):
    hook = HOOKS[conn_type]
    from airflow_report_provider.hooks.extras import COMMON_EXTRAS

    assert set(COMMON_EXTRAS) | set(hook.api_extras) == set(conn_fields(conn_type))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_calls_per_minute", "fast"),
        ("max_calls_per_minute", -1),
        ("max_retries", 1.5),
        ("max_retries", "many"),
        ("retry_base_delay", "soon"),
        ("retry_max_delay", -3),
        ("verify_ssl", "maybe"),
        ("proxy", "proxy.internal:3128"),
        ("rate_limit_storage", "postgres://db/1"),
    ],
)
def test_a_bad_extra_is_refused_naming_the_field(name, value):
    with pytest.raises(ReportValidationError) as raised:
        ConnectionSettings.from_connection(conn({name: value}), default_host="https://x", conn_id="c1")
    assert f"connection 'c1' extra {name}" in str(raised.value)


def test_a_bad_proxy_password_is_not_shown():
    with pytest.raises(ReportValidationError) as raised:
        ConnectionSettings.from_connection(conn({"proxy": "ftp://user:hunter2@proxy:21"}), default_host="https://x", conn_id="c1")
    assert "hunter2" not in str(raised.value)


def test_good_extras_are_parsed():
    settings = ConnectionSettings.from_connection(
        conn(
            {
                "max_calls_per_minute": "20",
                "verify_ssl": "false",
                "max_retries": "2",
                "retry_base_delay": 0.5,
                "retry_max_delay": "30",
                "proxy": "http://proxy.internal:3128",
                "rate_limit_storage": "redis://127.0.0.1:6379/2",
            }
        ),
        default_host="https://x",
        conn_id="c1",
    )
    assert settings.calls_per_minute == 20.0 and settings.verify is False
    assert (settings.retry.max_attempts, settings.retry.base_delay, settings.retry.max_delay) == (3, 0.5, 30.0)
    assert settings.proxy == "http://proxy.internal:3128"
    assert settings.rate_limit_storage == "redis://127.0.0.1:6379/2"


@pytest.mark.parametrize("hook", [CriteoMpoHook, WalmartMarketplaceHook])
def test_hook_forms_and_provider_info_declare_the_same_fields(hook):
    """Airflow before 3.2 builds the form from the hook, later ones from the provider info: the same fields."""
    from airflow_report_provider.get_provider_info import get_provider_info

    info = {c["connection-type"]: c for c in get_provider_info()["connection-types"]}[hook.conn_type]
    widgets = hook.get_connection_form_widgets()
    assert set(widgets) == set(info["conn-fields"])
    for name, field in info["conn-fields"].items():
        assert widgets[name].args[0] == field["label"]
    assert widgets["verify_ssl"].field_class.__name__ == "BooleanField"
    assert widgets["max_retries"].field_class.__name__ == "IntegerField"
    behaviour = hook.get_ui_field_behaviour()
    assert behaviour == {key.replace("-", "_"): value for key, value in info["ui-field-behaviour"].items()}
    assert behaviour["relabeling"]["password"] == "Client secret"
