"""Running localcloud: one process, one port, every account.

``LocalCloud`` starts moto's server app behind the :class:`~localcloud.gateway.Gateway` on a
background thread; tests start it in-process on a free port, ``hubspoke localcloud serve``
runs it in the foreground.
"""

from __future__ import annotations

import errno
import socket
import threading
from typing import TYPE_CHECKING, Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from localcloud import moto_patches
from localcloud.alarm_reads import evaluate_before_reads
from localcloud.authz.enforcer import Enforcer
from localcloud.control import ControlApi, control_token_from_environment
from localcloud.credentials import CredentialStore, Session
from localcloud.directory import Directory
from localcloud.gateway import AllowAll, Authorizer, Gateway
from localcloud.sagemaker.dispatch import SageMakerDispatcher
from localcloud.sagemaker.endpoints import shutdown_endpoints
from localcloud.sagemaker.group_policies import GroupPolicies
from localcloud.sagemaker.invoke import invoke_handler
from localcloud.sts import StsHandler

if TYPE_CHECKING:
    from hubspoke.config import AccountsConfig

DEFAULT_PORT = 4599  # also hubspoke.cli.localcloud_cmd.DEFAULT_PORT
DEFAULT_HOST = "127.0.0.1"
MANAGEMENT_ACCOUNT = "123456789012"


class _QuietHandler(MotoRequestHandler):
    """Moto's request handler without a log line per request (the gateway logs denials)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class PortBusyError(RuntimeError):
    """The port is taken by another program."""


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in {errno.EADDRINUSE, errno.EACCES}:
                return False
            raise
    return True


class LocalCloud:
    """The embedded multi-account AWS. Not thread-safe to start twice in one process:
    moto keeps its state in module globals."""

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        region: str = "us-east-1",
        management_account: str = MANAGEMENT_ACCOUNT,
        enforce: bool = True,
        known_accounts: list[str] | None = None,
        control_token: str | None = None,
    ) -> None:
        moto_patches.apply()
        # What the control API (/_localcloud/, where keys come from) requires of callers.
        self.control_token = control_token or control_token_from_environment()
        self.host = host
        self.port = port
        self.region = region
        self.credentials = CredentialStore()
        self.directory = Directory()
        self.admin: Session = self.credentials.issue_root(management_account)
        self.management_account = management_account
        self.known_accounts = list(known_accounts or [])
        self.group_policies = GroupPolicies()
        self.enforcer: Enforcer | None = None
        self.authorizer: Authorizer
        if enforce:
            self.enforcer = Enforcer(
                self.accounts, management_account, self.group_policies.as_resources
            )
            self.authorizer = self.enforcer
        else:
            self.authorizer = AllowAll()
        self._server: BaseWSGIServer | None = None
        self._shared: Any = None
        self._thread: threading.Thread | None = None

    def accounts(self) -> list[str]:
        """Every account localcloud knows: configured ones and any moto has state for."""
        from moto.iam.models import iam_backends

        seen = [self.management_account, *self.known_accounts]
        seen += [a for a in list(iam_backends.keys()) if a.isdigit() and len(a) == 12]
        return list(dict.fromkeys(seen))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def app(self) -> Gateway:
        return Gateway(
            DomainDispatcherApplication(create_backend_app),
            self.credentials,
            self.authorizer,
            handlers={
                "sts": StsHandler(self.credentials, self.directory),
                "cloudwatch": evaluate_before_reads,
                "sagemaker": SageMakerDispatcher(self),
                "sagemaker-runtime": invoke_handler(self),
            },
            control=ControlApi(self),
        )

    def start(self) -> LocalCloud:
        if self.port and not port_is_free(self.host, self.port):
            raise PortBusyError(
                f"port {self.port} on {self.host} is already in use; stop what holds it "
                "or pick another with --port"
            )
        self._server = make_server(
            self.host, self.port, self.app(), threaded=True, request_handler=_QuietHandler
        )
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="localcloud", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Block until interrupted (starting first if :meth:`start` was not called)."""
        if self._thread is None:
            self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    def stop(self) -> None:
        shutdown_endpoints(self)  # no model server outlives localcloud
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def root_session(self, account: str) -> Session:
        """A key of ``account``'s root user (bootstrap and tests act as the account owner)."""
        return self.credentials.issue_root(account)

    def assume(self, role_arn: str, session_name: str, *, via: Session) -> Session:
        """The session ``via`` (a role session: account roots may not assume roles, as on
        AWS) gets from ``sts:AssumeRole`` of ``role_arn``.

        The request goes to STS over HTTP, signed as ``via``, as any caller's would (this is no
        shortcut into the credential store): the role's trust policy and the SCPs decide, and
        a refusal raises botocore's ``ClientError`` (``AccessDenied``) with no session issued.
        :meth:`client` then gives clients that sign as the returned session."""
        answer = self.client("sts", via).assume_role(RoleArn=role_arn, RoleSessionName=session_name)
        key = answer["Credentials"]["AccessKeyId"]
        session = self.credentials.get(key)
        if session is None:
            raise LookupError(
                f"sts:AssumeRole at {self.url} returned the key {key}, which this localcloud "
                "did not issue"
            )
        return session

    def airflow_env(self, accounts: AccountsConfig) -> dict[str, str]:
        """What an Airflow process needs to run hubspoke against this localcloud: the hub
        orchestrator's session (as MWAA's execution role would give it) and the four account
        connections. No AWS_ENDPOINT_URL: the connections carry the endpoint."""
        from hubspoke.aws.connections import account_connections, connection_env

        session = self.credentials.issue_role_session(accounts.orchestrator_arn, "airflow")
        env = {k: v for k, v in self.session_env(session).items() if k != "AWS_ENDPOINT_URL"}
        env.update(connection_env(account_connections(accounts, "localcloud", self.url)))
        return env

    def session_env(self, session: Session) -> dict[str, str]:
        return session.as_env(self.region, self.url)

    def boto3_session(self, session: Session | None = None):
        """A boto3 session signing as ``session`` (default: the management admin)."""
        import boto3

        session = session or self.admin
        return boto3.Session(
            aws_access_key_id=session.access_key_id,
            aws_secret_access_key=session.secret_access_key,
            aws_session_token=session.session_token,
            region_name=self.region,
        )

    def client(self, service: str, session: Session | None = None) -> Any:
        """A boto3 client of ``service`` signing as ``session`` (default: the admin)."""
        import boto3

        session = session or self.admin
        if self._shared is None:
            # One boto3 session keeps the parsed service models: clients are then cheap.
            self._shared = boto3.Session(region_name=self.region)
        return self._shared.client(
            service,
            endpoint_url=self.url,
            aws_access_key_id=session.access_key_id,
            aws_secret_access_key=session.secret_access_key,
            aws_session_token=session.session_token,
        )
