"""boto3 sessions from Airflow connections, carrying the connection's endpoint.

Libraries such as the SageMaker SDK build their own clients from a boto3 session; a session
cannot hold an endpoint, so against localcloud those clients would go to AWS. The session
returned here adds the connection's ``endpoint_url`` to every client and resource it makes —
and nothing at all when the connection has none (AWS).
"""

from __future__ import annotations

from typing import Any

import boto3


class EndpointSession(boto3.Session):
    """A boto3 session whose clients and resources default to one endpoint."""

    def __init__(self, base: boto3.Session, endpoint_url: str) -> None:
        import botocore.session

        # A fresh botocore session (boto3 may register its handlers on one only once) that
        # shares the base session's credentials object, so provider refreshes still apply.
        core = botocore.session.get_session()
        core._credentials = base._session.get_credentials()
        super().__init__(botocore_session=core, region_name=base.region_name)
        self.endpoint_url = endpoint_url

    def client(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        return super().client(*args, **kwargs)

    def resource(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        return super().resource(*args, **kwargs)


def session_for(conn_id: str) -> boto3.Session:
    """The boto3 session of an account connection (assumed role, refreshed by the provider)."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    hook = AwsBaseHook(aws_conn_id=conn_id)
    base = hook.get_session()
    endpoint = hook.conn_config.endpoint_url
    return EndpointSession(base, endpoint) if endpoint else base
