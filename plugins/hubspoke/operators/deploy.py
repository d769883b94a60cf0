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
    from hubspoke.deploy import DeploymentPlan

# What a deployment may leave behind for :func:`hubspoke.deploy.discard_unused` to remove.
PLAN_RESOURCES = ("model", "config")


class DeploymentFailed(AirflowFailException):
    """The endpoint did not end up serving the requested version (no retry helps)."""


class DeployToSpokeOperator(BaseOperator):
    """Create the model from the hub package, the endpoint config, and create or update the
    endpoint with the environment's strategy; wait (deferred); verify what is live.

    A deployment that fails or is rolled back removes the endpoint config and model it made
    when nothing uses them. A retry treats the plan's config and model as its own (an
    earlier try may have made them before its worker died), and waits for a change to the
    requested config that an earlier try started instead of failing on it."""

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

    def _plan(self) -> tuple[Any, str, DeploymentPlan]:
        from hubspoke.aws.sessions import session_for
        from hubspoke.deploy import DeploymentError, plan
        from hubspoke.training import spoke_key_arn

        session = session_for(self.aws_conn_id)
        key = spoke_key_arn(session.client("kms"))
        try:
            deployment = plan(
                self.model, self.environment, self.package_arn, key, restore=self.restore
            )
        except DeploymentError as exc:
            raise DeploymentFailed(str(exc)) from None
        return session, key, deployment

    def _where(self) -> str:
        from hubspoke.deploy import spoke

        return spoke(self.accounts, self.environment)

    def execute(self, context: Context) -> dict[str, Any]:
        from hubspoke.alarms import MissingRollbackAlarm, ensure_rollback_alarms
        from hubspoke.deploy import DeploymentError, apply

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
        sagemaker = session.client("sagemaker")
        try:
            applied = apply(sagemaker, self.model, self.accounts, deployment, key)
        except DeploymentError as exc:
            raise DeploymentFailed(str(exc)) from None
        self.log.info("%s %s with %s", applied.action, deployment.endpoint, deployment.config_name)
        owned = applied.created
        if applied.action == "resumed" or _try_number(context) > 1:
            owned = PLAN_RESOURCES
        if not applied.settling:
            return self._verified(sagemaker, deployment, applied.action, owned)
        timeout = self.settle_timeout(deployment)
        self.log.info(
            "waiting up to %d min for %s to settle", round(timeout / 60), deployment.endpoint
        )
        self.defer(
            trigger=EndpointSettledTrigger(
                deployment.endpoint,
                self.aws_conn_id,
                poll_interval=self.poll_interval,
                timeout_seconds=timeout,
            ),
            method_name="execute_complete",
            kwargs={"action": applied.action, "owned": list(owned)},
        )

    def settle_timeout(self, deployment: DeploymentPlan) -> float:
        """How long to wait for the endpoint: derived from the deployment config sent."""
        from hubspoke.deploy import settle_seconds

        settings = getattr(self.model.environments, self.environment)
        return float(settle_seconds(deployment.deployment_config, settings.instance_count))

    def execute_complete(
        self,
        context: Context,
        event: dict[str, Any],
        action: str = "updated",
        owned: Sequence[str] = (),
    ) -> dict[str, Any]:
        from hubspoke.deploy import describe, timed_out_message

        session, _, deployment = self._plan()
        sagemaker = session.client("sagemaker")
        if event.get("status") == "Timeout":
            # SageMaker carries on: what the endpoint is moving to stays, nothing is removed.
            status = event.get("last_status")
            if not status:
                live = describe(sagemaker, deployment.endpoint) or {}
                status = live.get("EndpointStatus", "changing")
            waited = float(event.get("waited_seconds") or self.settle_timeout(deployment))
            raise DeploymentFailed(timed_out_message(deployment, self._where(), status, waited))
        return self._verified(sagemaker, deployment, action, owned)

    def _verified(
        self, sagemaker: Any, deployment: DeploymentPlan, action: str, owned: Sequence[str]
    ) -> dict[str, Any]:
        from hubspoke.deploy import DeploymentError, discard_unused, verify_live

        try:
            live = verify_live(sagemaker, deployment, self.accounts)
        except DeploymentError as exc:
            discarded = discard_unused(sagemaker, deployment, owned)
            for line in (*discarded.removed, *discarded.failed):
                self.log.info("clean-up: %s", line)
            message, cleanup = str(exc).rstrip(), discarded.sentence()
            if cleanup:
                message = f"{message if message.endswith('.') else message + '.'} {cleanup}"
            raise DeploymentFailed(message) from None
        # The alarms that guarded it (made sure of in execute, before the endpoint changed).
        strategy = getattr(self.model.environments, self.environment).deployment
        alarms = [] if self.restore else strategy.alarm_names
        return {**asdict(deployment), **live, "action": action, "rollback_alarms": alarms}


def _try_number(context: Context | dict[str, Any]) -> int:
    ti = context.get("ti") if hasattr(context, "get") else None
    try:
        return int(getattr(ti, "try_number", 1) or 1)
    except (TypeError, ValueError):
        return 1
