"""AWS sessions for the CLI: a role in an account, on AWS or on localcloud.

On AWS the ambient credentials (profile, SSO, instance role) assume the role with STS. With
``--endpoint`` (or ``$HUBSPOKE_ENDPOINT_URL``) the CLI talks to localcloud and obtains the
role's session from it (sending localcloud's control token, as `hubspoke localcloud creds`
does), as a person holding that role would on AWS. Either way the caller gets a boto3 session
and the endpoint to use; nothing else in the CLI differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from hubspoke.cli.errors import UserError

ENDPOINT_ENV = "HUBSPOKE_ENDPOINT_URL"

endpoint_option = click.option(
    "--endpoint",
    envvar=ENDPOINT_ENV,
    default=None,
    help=f"localcloud URL (or ${ENDPOINT_ENV}); omit to use your AWS credentials.",
)


@dataclass(frozen=True)
class RoleSession:
    boto3_session: Any
    endpoint_url: str | None

    def client(self, service: str) -> Any:
        return self.boto3_session.client(service, endpoint_url=self.endpoint_url)


def role_session(role_arn: str, endpoint: str | None, *, region: str, name: str) -> RoleSession:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    if endpoint:
        from hubspoke.cli.localcloud_cmd import _post_json

        issued = _post_json(endpoint, "sessions", {"role_arn": role_arn, "session_name": name})
        session = boto3.Session(
            aws_access_key_id=issued["AccessKeyId"],
            aws_secret_access_key=issued["SecretAccessKey"],
            aws_session_token=issued["SessionToken"],
            region_name=region,
        )
        return RoleSession(session, endpoint.rstrip("/"))
    try:
        creds = boto3.client("sts", region_name=region).assume_role(
            RoleArn=role_arn, RoleSessionName=name
        )["Credentials"]
    except (ClientError, BotoCoreError) as exc:
        raise UserError(
            f"cannot assume {role_arn} with your AWS credentials ({exc}); "
            "sign in as someone the role trusts, or pass --endpoint for localcloud"
        ) from None
    session = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )
    return RoleSession(session, None)
