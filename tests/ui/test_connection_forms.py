"""The provider's connection forms in Airflow's real UI (api-server + headless Chromium), and the connection test.

For each conn type: the add form shows the declared labels, placeholders and extra fields (with their defaults),
hides schema and port; a connection saved from the form keeps every extra, and the edit form shows them again.
``POST /api/v2/connections/test`` succeeds against the simulator and fails clearly with a wrong secret, with no
secret in its message. Screenshots of every step are kept under ``test-artifacts/ui/``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.ui.conftest import shot_path

pytestmark = [pytest.mark.ui, pytest.mark.slow, pytest.mark.timeout(600)]

RELABELED = {"host": "API base URL", "login": "Client ID", "password": "Client secret"}

FORMS: dict[str, dict[str, Any]] = {
    "criteo_mpo": {
        "type_label": "Criteo MPO",
        "placeholders": {
            "host": "https://api.criteo.com",
            "login": "your Criteo application's client id",
            "password": "your Criteo application's client secret",
        },
        "extra_labels": ["API version", "Max calls per minute", "Verify TLS certificates"],
        "defaults": {"api_version": "preview", "max_calls_per_minute": "", "verify_ssl": True},
        # What the test types into the extra fields, and what the saved extra must then hold.
        "fill": {"api_version": "preview", "max_calls_per_minute": "0"},
        "saved_extra": {"api_version": "preview", "max_calls_per_minute": 0, "verify_ssl": False},
    },
    "walmart_marketplace": {
        "type_label": "Walmart Marketplace",
        "placeholders": {
            "host": "https://marketplace.walmartapis.com",
            "login": "your Walmart Marketplace client id",
            "password": "your Walmart Marketplace client secret",
        },
        "extra_labels": [
            "Service name (WM_SVC.NAME)",
            "Channel type (WM_CONSUMER.CHANNEL.TYPE)",
            "Market (WM_MARKET)",
            "Max calls per minute",
            "Verify TLS certificates",
        ],
        "defaults": {"service_name": "Walmart Marketplace", "channel_type": "", "max_calls_per_minute": "", "verify_ssl": True},
        "fill": {"service_name": "Walmart Marketplace", "channel_type": "7b2c3a4e-test-channel", "max_calls_per_minute": "0"},
        "market": ("US (default)", "Canada"),
        "saved_extra": {
            "service_name": "Walmart Marketplace",
            "channel_type": "7b2c3a4e-test-channel",
            "market": "ca",
            "max_calls_per_minute": 0,
            "verify_ssl": False,
        },
    },
}


def credentials(sim: Any, conn_type: str) -> tuple[str, str]:
    cfg = sim.config
    if conn_type == "criteo_mpo":
        return cfg.criteo_client_id, cfg.criteo_client_secret
    return cfg.walmart_client_id, cfg.walmart_client_secret


class ConnectionDialog:
    """The add / edit connection dialog of Airflow 3.3's UI."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.dialog = page.get_by_role("dialog")

    def choose_type(self, label: str) -> None:
        self.dialog.get_by_role("combobox").first.fill(label)
        self.page.keyboard.press("Enter")
        self.dialog.locator("input[name=host]").wait_for()

    def open_extra_fields(self) -> None:
        self.dialog.get_by_role("button", name="Extra Fields", exact=True).click()
        self.dialog.locator("[name^=element_]").first.wait_for()

    def group(self, label: str) -> Any:
        return self.dialog.get_by_role("group").filter(has=self.page.get_by_text(label, exact=True))

    def label_texts(self) -> list[str]:
        return [" ".join(t.split()) for t in self.dialog.locator("label").all_inner_texts()]

    def value(self, field: str) -> Any:
        element = self.dialog.locator(f"[name=element_{field}]")
        return element.is_checked() if element.get_attribute("type") == "checkbox" else element.input_value()

    def select_text(self, label: str) -> str:
        """What a select (react-select) shows, without its label and description."""
        group = self.group(label)
        spoken = {t.strip() for t in group.locator("[role=log], [aria-live]").all_inner_texts()}  # screen-reader text
        lines = [line.strip() for line in group.inner_text().splitlines() if line.strip() and line.strip() not in spoken]
        assert lines[0] == label, lines
        return lines[1]

    def choose(self, label: str, option: str) -> None:
        self.group(label).get_by_role("combobox").fill(option)
        self.page.keyboard.press("Enter")

    def save(self) -> None:
        self.dialog.get_by_role("button", name="Save").click()
        self.dialog.wait_for(state="hidden")


def open_add_form(page: Any, base: str, conn_type_label: str) -> ConnectionDialog:
    page.goto(f"{base}/connections")
    page.get_by_role("button", name="Add Connection").click()
    form = ConnectionDialog(page)
    form.choose_type(conn_type_label)
    return form


def open_edit_form(page: Any, base: str, conn_id: str) -> ConnectionDialog:
    page.goto(f"{base}/connections")
    row = page.get_by_role("row").filter(has_text=conn_id)
    row.get_by_role("button", name="Edit Connection").click()
    form = ConnectionDialog(page)
    form.dialog.locator("input[name=host]").wait_for()
    return form


@pytest.mark.parametrize("conn_type", sorted(FORMS))
def test_add_and_edit_forms_round_trip_every_extra(page, api_server, ui_simulator, conn_type, request):
    spec = FORMS[conn_type]
    base = api_server.api_url
    conn_id = f"ui_{conn_type}"
    shot = lambda step: page.screenshot(path=str(shot_path(request.node.name, step)), full_page=True)  # noqa: E731

    # -- the add form as declared ----------------------------------------------------------------------------
    form = open_add_form(page, base, spec["type_label"])
    labels = form.label_texts()
    for field, label in RELABELED.items():
        assert label in labels
        assert form.dialog.locator(f"input[name={field}]").get_attribute("placeholder") == spec["placeholders"][field]
    for hidden in ("schema", "port"):
        assert form.dialog.locator(f"input[name={hidden}]").count() == 0, f"{hidden} should be hidden"
    # The standard fields first: opening "Extra Fields" folds them away.
    login, secret = credentials(ui_simulator, conn_type)
    form.dialog.locator("input[name=connection_id]").fill(conn_id)
    form.dialog.locator("input[name=host]").fill(ui_simulator.url)
    form.dialog.locator("input[name=login]").fill(login)
    form.dialog.locator("input[name=password]").fill(secret)
    form.open_extra_fields()
    shot("1-add-form")
    labels = form.label_texts()
    for label in spec["extra_labels"]:
        assert label in labels, labels
    for field, default in spec["defaults"].items():
        assert form.value(field) == default, field
    if "market" in spec:
        empty_label, chosen_label = spec["market"]
        assert form.select_text("Market (WM_MARKET)") == empty_label
        assert "null" not in form.group("Market (WM_MARKET)").inner_text()

    # -- fill in the extras and save ------------------------------------------------------------------------------------
    for field, value in spec["fill"].items():
        form.dialog.locator(f"[name=element_{field}]").fill(value)
    form.dialog.locator("label:has([name=element_verify_ssl])").click()
    assert form.value("verify_ssl") is False
    if "market" in spec:
        form.choose("Market (WM_MARKET)", chosen_label)
        assert form.select_text("Market (WM_MARKET)") == chosen_label
    shot("2-filled")
    form.save()

    saved = api_server.api("GET", f"/api/v2/connections/{conn_id}")
    assert saved["conn_type"] == conn_type and saved["host"] == ui_simulator.url and saved["login"] == login
    assert saved["port"] in (None, 0) and saved["schema"] in (None, "")
    extra = json.loads(saved["extra"])
    for field, value in spec["saved_extra"].items():
        assert extra.get(field) == value, (field, extra)

    # -- the edit form shows every saved value ---------------------------------------------------------------
    form = open_edit_form(page, base, conn_id)
    assert form.dialog.locator("input[name=host]").input_value() == ui_simulator.url
    assert form.dialog.locator("input[name=login]").input_value() == login
    form.open_extra_fields()
    shot("3-edit-form")
    for field, value in spec["fill"].items():
        assert form.value(field) == value, field
    assert form.value("verify_ssl") is False
    if "market" in spec:
        assert form.select_text("Market (WM_MARKET)") == chosen_label
    # Saving the edit form unchanged keeps every extra.
    form.save()
    assert json.loads(api_server.api("GET", f"/api/v2/connections/{conn_id}")["extra"]) == extra


@pytest.mark.parametrize("conn_type", sorted(FORMS))
def test_connection_test_endpoint(api_server, ui_simulator, conn_type):
    login, secret = credentials(ui_simulator, conn_type)
    body = {
        "connection_id": f"test_{conn_type}",
        "conn_type": conn_type,
        "host": ui_simulator.url,
        "login": login,
        "password": secret,
        "extra": json.dumps({"max_calls_per_minute": 0, "max_retries": 0}),
    }
    ok = api_server.api("POST", "/api/v2/connections/test", json=body)
    assert ok["status"] is True, ok
    assert "succeeded" in ok["message"] and secret not in ok["message"]

    wrong = "wrong-" + secret[::-1]
    failed = api_server.api("POST", "/api/v2/connections/test", json={**body, "password": wrong})
    assert failed["status"] is False, failed
    assert "401" in failed["message"], failed
    assert wrong not in failed["message"] and secret not in failed["message"]
