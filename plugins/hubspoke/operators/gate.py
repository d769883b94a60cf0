"""The production gate: Airflow's human-in-the-loop approval, with a Reject that is final.

Airflow's ``ApprovalOperator(fail_on_reject=True)`` raises ``HITLRejectException``, an
``AirflowException``, so the task's retries would put the same question to a person again
after they said no. Here a Reject fails the task without retries, names who rejected it, and
leaves who and when in XCom (key :data:`REJECTION_KEY`) for the task that records it in the
ledger.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.providers.standard.exceptions import HITLRejectException
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk.exceptions import AirflowFailException

REJECTION_KEY = "rejection"


class GateRejected(AirflowFailException):
    """A person chose Reject at the production gate (final: no retry asks again)."""


def responder_name(event: dict[str, Any]) -> str:
    """``airflow user NAME`` for the person who answered a gate."""
    responder = event.get("responded_by_user") or {}
    return f"airflow user {responder.get('name') or responder.get('id') or '?'}"


class ProductionGateOperator(ApprovalOperator):
    """Approve or Reject in the Airflow UI (*Required actions*); Reject fails the run."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fail_on_reject=True, **kwargs)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        try:
            return super().execute_complete(context=context, event=event)
        except HITLRejectException:
            who = responder_name(event)
            answered = event.get("responded_at")
            when = answered.isoformat() if isinstance(answered, datetime) else str(answered)
            context["ti"].xcom_push(key=REJECTION_KEY, value={"by": who, "at": when})
            raise GateRejected(
                f"{who} rejected the production gate at {when}; nothing was deployed to prod. "
                "Trigger the promotion again to ask anew."
            ) from None
