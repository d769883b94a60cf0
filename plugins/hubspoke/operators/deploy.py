"""``DeployToSpokeOperator``: a hub model version onto a spoke endpoint, verified live."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from hubspoke.triggers.endpoint import EndpointSettledTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

    from hubspoke.config import AccountsConfig, ModelConfig


class DeploymentFailed(AirflowFailException):
    """The endpoint did not end up serving the requested version (no retry helps)."""


class DeployToSpokeOperator(BaseOperator):
    """Create the model from the hub package, the endpoint config, and create or update the
    endpoint with the environment's strategy; wait (deferred); verify what is live."""

    template_fields: Sequence[str] = ("package_arn",)

    def __init__(
        self,
        *,
        model: ModelConfig,
        accounts: AccountsConfig,
        environment: str,
        package_arn: str,
        poll_interval: float = 5.0,
        restore: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.accounts = accounts
        self.environment = environment
        self.package_arn = package_arn
        self.poll_interval = poll_interval
        self.restore = restore
        self.aws_conn_id = f"aws_{environment}"

    def _plan(self) -> Any:
        from hubspoke.aws.sessions import session_for
        from hubspoke.deploy import plan
        from hubspoke.training import spoke_key_arn

        session = session_for(self.aws_conn_id)
        key = spoke_key_arn(session.client("kms"))
        return (
            session,
            key,
            plan(self.model, self.environment, self.package_arn, key, restore=self.restore),
        )

    def execute(self, context: Context) -> dict[str, Any]:
        from hubspoke.alarms import MissingRollbackAlarm, ensure_rollback_alarms
        from hubspoke.deploy import apply

        session, key, deployment = self._plan()
        if self.restore:
            self.log.info("restore: the fleet is replaced at once, no alarm-driven rollback")
        else:
            try:
                alarms = ensure_rollback_alarms(
                    session.client("cloudwatch"), self.model, self.environment, deployment.endpoint
                )
            except MissingRollbackAlarm as exc:
                raise DeploymentFailed(str(exc)) from None
            for name, outcome in alarms.items():
                self.log.info("rollback alarm %s: %s", name, outcome)
        action = apply(session.client("sagemaker"), self.model, self.accounts, deployment, key)
        self.log.info("%s %s with %s", action, deployment.endpoint, deployment.config_name)
        if action == "unchanged":
            return self._verified(session, deployment, action)
        self.defer(
            trigger=EndpointSettledTrigger(
                deployment.endpoint, self.aws_conn_id, poll_interval=self.poll_interval
            ),
            method_name="execute_complete",
            kwargs={"action": action},
        )

    def execute_complete(
        self, context: Context, event: dict[str, Any], action: str = "updated"
    ) -> dict[str, Any]:
        session, _, deployment = self._plan()
        return self._verified(session, deployment, action)

    def _verified(self, session: Any, deployment: Any, action: str) -> dict[str, Any]:
        from hubspoke.deploy import DeploymentRolledBack, verify_live

        try:
            live = verify_live(session.client("sagemaker"), deployment)
        except DeploymentRolledBack as exc:
            raise DeploymentFailed(str(exc)) from None
        # The alarms that guarded it (made sure of in execute, before the endpoint changed).
        strategy = getattr(self.model.environments, self.environment).deployment
        alarms = [] if self.restore else strategy.alarm_names
        return {**asdict(deployment), **live, "action": action, "rollback_alarms": alarms}
