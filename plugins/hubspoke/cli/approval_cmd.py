"""``hubspoke approve|reject PACKAGE_ARN``: change a model version's approval in the hub.

Runs as the hub approver role — the only principal the organization lets change approval
status (the orchestrator cannot: separation of duties). On localcloud the CLI obtains that
role's session itself; on AWS your credentials must be allowed to assume it.
"""

from __future__ import annotations

import re

import click

from hubspoke.cli.errors import UserError
from hubspoke.cli.sessions import endpoint_option, role_session
from hubspoke.config import load_accounts

_PACKAGE_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"model-package/(?P<group>[a-zA-Z0-9-]+)/(?P<version>\d+)$"
)


def _set_status(arn: str, status: str, reason: str | None, endpoint: str | None) -> None:
    from botocore.exceptions import ClientError

    match = _PACKAGE_ARN.match(arn)
    if not match:
        raise UserError(
            f"{arn!r} is not a versioned model package ARN "
            "(arn:aws:sagemaker:REGION:ACCOUNT:model-package/GROUP/VERSION)"
        )
    accounts = load_accounts()
    if match["account"] != accounts.account_id("hub"):
        raise UserError(
            f"{arn} is in account {match['account']}, not the hub ({accounts.account_id('hub')}); "
            "only hub registry versions are approved"
        )
    session = role_session(
        accounts.approver_arn, endpoint, region=match["region"], name="hubspoke-approval-cli"
    )
    sagemaker = session.client("sagemaker")
    try:
        current = sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
        if current == status:
            click.echo(f"{arn} is already {status}; nothing changed")
            return
        kwargs = {"ModelPackageArn": arn, "ModelApprovalStatus": status}
        if reason:
            kwargs["ApprovalDescription"] = reason
        sagemaker.update_model_package(**kwargs)
    except ClientError as exc:
        error = exc.response["Error"]
        raise UserError(f"{error.get('Code')}: {error.get('Message')}") from None
    click.echo(f"{arn}: {current} -> {status}" + (f" ({reason})" if reason else ""))


@click.command()
@click.argument("package_arn")
@click.option("--reason", default=None, help="Why; recorded as the approval description.")
@endpoint_option
def approve(package_arn: str, reason: str | None, endpoint: str | None) -> None:
    """Approve PACKAGE_ARN in the hub registry (starts its promotion)."""
    _set_status(package_arn, "Approved", reason, endpoint)


@click.command()
@click.argument("package_arn")
@click.option("--reason", default=None, help="Why; shown to whoever waits on the approval.")
@endpoint_option
def reject(package_arn: str, reason: str | None, endpoint: str | None) -> None:
    """Reject PACKAGE_ARN: a promotion waiting on it fails at once with this reason."""
    _set_status(package_arn, "Rejected", reason, endpoint)
