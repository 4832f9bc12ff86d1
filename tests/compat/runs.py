"""Running a DAG with dag.test() and reading what it left, the same way on every supported Airflow.

The only place of the test suite that knows how Airflow 2.11 and 3.x differ in dag.test() (``execution_date`` or
``logical_date`` / ``run_after``) and in their XCom tables (``XCom`` or ``XComModel``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow_report_provider.compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS


@dataclass(frozen=True)
class TaskFact:
    state: str
    try_number: int


def _load_auth_models() -> None:
    """Airflow 2.11's run notes refer to the FAB auth manager's user table: its models must be loaded (as every
    Airflow 2 component does through its auth manager) before a DagRun is cleared."""
    try:
        import airflow.providers.fab.auth_manager.models  # noqa: F401
    except ImportError:
        pass


def _register_assets(dag: Any) -> None:
    """Airflow 3.0's dag.test() does not write the DAG to the metadata DB, so the assets of its outlets stay
    inactive (a DAG processor registers them in a deployment): write it first, as 3.1 and later do themselves."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.models.dag import DAG as SchedulerDAG

    DagBundlesManager().sync_bundles_to_db()
    bundle = "example-dags" if "example_dags" in str(dag.fileloc) else "test-dags"
    from airflow.serialization.serialized_objects import SerializedDAG

    SchedulerDAG.bulk_write_to_db(bundle, None, [SerializedDAG.deserialize_dag(SerializedDAG.serialize_dag(dag))])


def run(dag: Any, logical_date: datetime, base: str, **conf: Any) -> Any:
    """Run ``dag`` for ``logical_date`` with ``params.base`` = ``base``. A second run of the same date runs the
    same DagRun again, its task instances cleared first (3.x: the same run; 2.11: the run made anew)."""
    run_conf = {"base": base, **conf}
    if AIRFLOW_V_3_0_PLUS:
        if not AIRFLOW_V_3_1_PLUS:
            _register_assets(dag)
        return dag.test(logical_date=logical_date, run_after=logical_date, run_conf=run_conf)
    _load_auth_models()
    return dag.test(execution_date=logical_date, run_conf=run_conf)


def task_facts(dag_run: Any) -> dict[str, TaskFact]:
    """``task_id`` (``task_id[map_index]`` for a mapped task) -> its final state and try number."""
    from airflow.utils.session import create_session

    with create_session() as session:
        facts = {}
        for ti in dag_run.get_task_instances(session=session):
            key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            facts[key] = TaskFact(str(getattr(ti.state, "value", ti.state)), ti.try_number)
        return facts


def states(dag_run: Any) -> dict[str, str]:
    return {key: fact.state for key, fact in task_facts(dag_run).items()}


def xcom(dag_run: Any, task_id: str, map_index: int = -1) -> Any:
    """The ``return_value`` XCom of one task instance."""
    if not AIRFLOW_V_3_0_PLUS:
        from airflow.models.xcom import XCom

        return XCom.get_one(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id, map_index=map_index)
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id, map_index=map_index, key="return_value")
            .one_or_none()
        )
        return None if row is None else XComModel.deserialize_value(row)
