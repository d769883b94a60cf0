"""Answering a human-in-the-loop gate from code, as the Airflow UI's *Required actions* does.

Used by ``hubspoke demo`` (which plays the person at the production gate and says so) and by
the end-to-end tests. It writes the response through the same route function the REST API
uses (``PATCH .../hitlDetails``), so validation and the task's resume are Airflow's own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class _Responder:
    name: str

    def get_id(self) -> str:
        return self.name

    def get_name(self) -> str:
        return self.name


def waiting_run_id(dag_id: str, task_id: str) -> str | None:
    """The run whose ``task_id`` is waiting for a person, if any."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    with create_session() as session:
        return session.scalar(
            select(TaskInstance.run_id).where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.task_id == task_id,
                TaskInstance.state.in_(
                    [TaskInstanceState.AWAITING_INPUT, TaskInstanceState.DEFERRED]
                ),
            )
        )


def respond(dag_id: str, run_id: str, task_id: str, option: str, responder: str) -> None:
    """Choose ``option`` ("Approve" / "Reject") for the gate, as user ``responder``."""
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
    from airflow.utils.session import create_session

    with create_session() as session:
        update_hitl_detail(
            dag_id=dag_id,
            dag_run_id=run_id,
            task_id=task_id,
            update_hitl_detail_payload=UpdateHITLDetailPayload(
                chosen_options=[option], params_input={}
            ),
            user=_Responder(responder),  # type: ignore[arg-type]
            session=session,
            map_index=-1,
        )


def answer_when_asked(
    dag_id: str, task_id: str, option: str, responder: str, timeout: float = 900.0
) -> str:
    """Wait until ``task_id`` of ``dag_id`` asks, then answer; return the run id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run_id = waiting_run_id(dag_id, task_id)
        if run_id is not None:
            respond(dag_id, run_id, task_id, option, responder)
            return run_id
        time.sleep(0.5)
    raise TimeoutError(f"{dag_id}.{task_id} never asked for a response within {timeout:.0f} s")
