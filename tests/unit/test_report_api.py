"""The Airflow wrappers' view of each API agrees with the hooks and triggers it loads lazily."""

from __future__ import annotations

import pytest

from airflow_report_provider.hooks.criteo_mpo import CriteoMpoHook
from airflow_report_provider.hooks.walmart import WalmartMarketplaceHook
from airflow_report_provider.operators.report_api import CRITEO_MPO, WALMART
from airflow_report_provider.triggers.criteo_mpo import CriteoMpoReportTrigger
from airflow_report_provider.triggers.walmart import WalmartReportTrigger


@pytest.mark.parametrize(
    ("api", "hook", "trigger"),
    [(CRITEO_MPO, CriteoMpoHook, CriteoMpoReportTrigger), (WALMART, WalmartMarketplaceHook, WalmartReportTrigger)],
)
def test_report_api_names_the_hook_and_trigger_and_shares_their_guidance(api, hook, trigger):
    assert api.hook_class is hook and api.trigger_class is trigger
    assert (api.job_id_field, api.conn_id_field) == (trigger.job_id_field, trigger.conn_id_field)
    assert (api.min_poll_interval, api.max_poll_interval) == (trigger.api_min_poll_interval, trigger.api_max_poll_interval)
    assert api.default_timeout == trigger.default_timeout_seconds
