"""The four account connections, built from ``config/accounts.yaml`` for a target.

Airflow runs as the hub orchestrator (on MWAA the environment's execution role *is*
``hubspoke-orchestrator``), so ``aws_hub`` needs no role and each spoke connection names that
spoke's ``hubspoke-spoke-deployer`` in ``role_arn``; the Amazon provider assumes it and
refreshes the session. Against localcloud the only difference is where requests go:
``endpoint_url`` for every service and, because the provider does not use ``endpoint_url``
for its own assume-role call, ``service_config.sts.endpoint_url`` as well.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from hubspoke.config import AccountsConfig

Target = Literal["aws", "localcloud"]
CONNECTION_IDS = {"hub": "aws_hub", "dev": "aws_dev", "staging": "aws_staging", "prod": "aws_prod"}


@dataclass(frozen=True)
class AccountConnection:
    conn_id: str
    account: str  # hub | dev | staging | prod
    extra: dict[str, Any]

    def uri_json(self) -> str:
        """The JSON form Airflow reads from ``AIRFLOW_CONN_<ID>``."""
        return json.dumps({"conn_type": "aws", "extra": self.extra}, sort_keys=True)

    @property
    def env_name(self) -> str:
        return f"AIRFLOW_CONN_{self.conn_id.upper()}"


def account_connections(
    accounts: AccountsConfig, target: Target, endpoint_url: str | None = None
) -> dict[str, AccountConnection]:
    """``{"aws_hub": ..., "aws_dev": ..., ...}`` for ``target``."""
    if target == "localcloud" and not endpoint_url:
        raise ValueError("a localcloud target needs endpoint_url (e.g. http://127.0.0.1:4599)")
    if target == "aws" and endpoint_url:
        raise ValueError("the aws target takes no endpoint_url: requests go to AWS")
    connections: dict[str, AccountConnection] = {}
    for account, conn_id in CONNECTION_IDS.items():
        extra: dict[str, Any] = {"region_name": accounts.region}
        if account != "hub":
            extra["role_arn"] = accounts.deployer_arn(account)
            extra["assume_role_kwargs"] = {"RoleSessionName": f"hubspoke-{account}"}
        if endpoint_url:
            extra["endpoint_url"] = endpoint_url
            extra["service_config"] = {"sts": {"endpoint_url": endpoint_url}}
        connections[conn_id] = AccountConnection(conn_id, account, extra)
    return connections


def connection_env(connections: dict[str, AccountConnection]) -> dict[str, str]:
    """Environment variables that define the connections for Airflow processes."""
    return {c.env_name: c.uri_json() for c in connections.values()}
