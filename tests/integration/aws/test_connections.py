"""The account connections, used by the Amazon provider's own hook against localcloud."""

from __future__ import annotations

import json

import pytest

from hubspoke.aws.connections import account_connections
from hubspoke.config import load_config

ACCOUNTS = load_config().accounts


def test_aws_target_names_roles_and_nothing_local() -> None:
    conns = account_connections(ACCOUNTS, "aws")
    assert set(conns) == {"aws_hub", "aws_dev", "aws_staging", "aws_prod"}
    assert "role_arn" not in conns["aws_hub"].extra
    assert conns["aws_prod"].extra["role_arn"] == ACCOUNTS.deployer_arn("prod")
    assert not any("endpoint_url" in json.dumps(c.extra) for c in conns.values())
    with pytest.raises(ValueError, match="takes no endpoint_url"):
        account_connections(ACCOUNTS, "aws", "http://127.0.0.1:1")
    with pytest.raises(ValueError, match="needs endpoint_url"):
        account_connections(ACCOUNTS, "localcloud")


@pytest.mark.usefixtures("airflow_as_orchestrator")
@pytest.mark.parametrize(
    ("conn_id", "expected"),
    [
        ("aws_hub", "arn:aws:sts::111111111111:assumed-role/hubspoke-orchestrator/airflow"),
        ("aws_dev", "arn:aws:sts::222222222222:assumed-role/hubspoke-spoke-deployer/hubspoke-dev"),
        (
            "aws_staging",
            "arn:aws:sts::333333333333:assumed-role/hubspoke-spoke-deployer/hubspoke-staging",
        ),
        (
            "aws_prod",
            "arn:aws:sts::444444444444:assumed-role/hubspoke-spoke-deployer/hubspoke-prod",
        ),
    ],
)
def test_provider_hook_reaches_each_account(conn_id: str, expected: str) -> None:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    hook = AwsBaseHook(aws_conn_id=conn_id, client_type="sts")
    assert hook.get_conn().get_caller_identity()["Arn"] == expected


@pytest.mark.usefixtures("airflow_as_orchestrator")
def test_spoke_connection_is_confined_to_its_spoke() -> None:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from botocore.exceptions import ClientError

    s3 = AwsBaseHook(aws_conn_id="aws_staging", client_type="s3").get_conn()
    with pytest.raises(ClientError) as info:
        s3.list_objects_v2(Bucket=ACCOUNTS.dev_bucket)
    assert info.value.response["Error"]["Code"] == "AccessDenied"
