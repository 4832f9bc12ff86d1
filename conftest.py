"""Test session setup: a throw-away Airflow home (SQLite), the simulator and the moto S3 fixtures.

Airflow reads its configuration when first imported, so the environment is set here, before any test module
(or plugin) imports it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

_REPO = Path(__file__).resolve().parent
_HOME = Path(tempfile.mkdtemp(prefix="arp-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_REPO / "tests" / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ["AIRFLOW__LOGGING__BASE_LOG_FOLDER"] = str(_HOME / "logs")
os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", "")
# dag.test() finds a DAG through its bundle: the test DAGs and the example DAGs are one bundle each.
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
    [
        {"name": name, "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {"path": str(path)}}
        for name, path in (("test-dags", _REPO / "tests" / "dags"), ("example-dags", _REPO / "example_dags"))
    ]
)

pytest_plugins = [
    "tests.support.s3",
    "tests.support.airflow_env",
    "airflow_report_provider.simulator.pytest_plugin",
]
