"""``hubspoke localcloud``: run the embedded multi-account AWS and get credentials for it."""

from __future__ import annotations

import json
import os
import shlex
import signal
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import click

from hubspoke.cli.errors import UserError

DEFAULT_PORT = 4599
DEFAULT_ENDPOINT = f"http://127.0.0.1:{DEFAULT_PORT}"
# The control API's token (as in localcloud.control): from the environment, else from the file
# `serve` writes for its port.
TOKEN_ENV = "LOCALCLOUD_CONTROL_TOKEN"
TOKEN_HEADER = "X-Localcloud-Control-Token"
STATE_ENV = "HUBSPOKE_STATE"


def token_file(port: int) -> Path:
    """Where `serve` on `port` keeps its control token: ``$HUBSPOKE_STATE`` if set, else
    ``~/.cache/hubspoke``."""
    state = os.environ.get(STATE_ENV)
    directory = Path(state) if state else Path.home() / ".cache" / "hubspoke"
    return directory / f"localcloud-{port}.token"


def _write_token_file(path: Path, token: str) -> None:
    """Write `token` to `path`, readable by this user only from the moment it exists."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.unlink(missing_ok=True)
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, f"{token}\n".encode())
    finally:
        os.close(fd)
    os.replace(staging, path)


def _remove_token_file(path: Path, token: str) -> None:
    """Remove `path` if it still holds `token` (and not another server's)."""
    try:
        if path.read_text().strip() == token:
            path.unlink()
    except OSError:
        pass


def control_token(endpoint: str) -> str:
    """The token to send to the localcloud at `endpoint`: ``$LOCALCLOUD_CONTROL_TOKEN`` if set,
    else the one `serve` wrote for the endpoint's port."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    url = urllib.parse.urlsplit(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    path = token_file(port)
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        token = ""
    except OSError as exc:
        raise UserError(
            f"cannot read the localcloud control token in {path} ({exc.strerror}); "
            f"set {TOKEN_ENV} instead"
        ) from None
    if not token:
        raise UserError(
            f"no localcloud control token: set {TOKEN_ENV}, or run `hubspoke localcloud serve` "
            f"as this user (it writes {path})"
        )
    return token


@click.group()
def localcloud() -> None:
    """The embedded multi-account AWS (hub, dev, staging, prod on one machine)."""


@localcloud.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="TCP port.")
@click.option(
    "--no-bootstrap", is_flag=True, help="Start empty instead of deploying infra/ + config/."
)
@click.option(
    "--no-enforce",
    is_flag=True,
    help="Debugging only: authenticate requests but skip the IAM/SCP evaluation.",
)
def serve(host: str, port: int, no_bootstrap: bool, no_enforce: bool) -> None:
    """Serve localcloud in the foreground until interrupted.

    Unless --no-bootstrap, the organization of config/ and the stacks of infra/ are created
    first, so the hub and spoke roles exist and `creds` works at once. The control token
    ($LOCALCLOUD_CONTROL_TOKEN, else a new one) is kept in a file only you can read,
    localcloud-PORT.token in $HUBSPOKE_STATE or ~/.cache/hubspoke, until it stops.
    """
    from localcloud.bootstrap import bootstrap
    from localcloud.server import LocalCloud, PortBusyError

    cloud = LocalCloud(host, port, enforce=not no_enforce)
    if no_enforce:
        click.echo("warning: enforcement is OFF: every signed request is allowed", err=True)
    try:
        cloud.start()
    except PortBusyError as exc:
        raise UserError(str(exc)) from None
    # A service manager stops us with SIGTERM: shut down as cleanly as on Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    path = token_file(cloud.port)
    try:
        _write_token_file(path, cloud.control_token)
    except OSError as exc:
        if not os.environ.get(TOKEN_ENV, "").strip():
            cloud.stop()
            raise UserError(
                f"cannot write the control token to {path} ({exc.strerror}); "
                f"set {STATE_ENV} to a writable directory or give the token in {TOKEN_ENV}"
            ) from None
        click.echo(
            f"warning: cannot write {path} ({exc.strerror}); clients need {TOKEN_ENV}", err=True
        )
    try:
        if not no_bootstrap:
            try:
                report = bootstrap(cloud)
            except ValueError as exc:
                cloud.stop()
                raise UserError(f"bootstrap failed: {exc}") from None
            click.echo(f"bootstrapped {len(report.changes)} resources in {report.seconds:.1f} s")
        click.echo(f"localcloud listening on {cloud.url} (region {cloud.region})")
        click.echo(f"control token (readable by you only) in {path}")
        click.echo(f"admin credentials: hubspoke localcloud creds --admin --endpoint {cloud.url}")
        try:
            cloud.serve_forever()
        except KeyboardInterrupt:
            click.echo("localcloud stopped")
    finally:
        _remove_token_file(path, cloud.control_token)


@localcloud.command("bootstrap")
@click.option("--endpoint", default=DEFAULT_ENDPOINT, show_default=True, help="localcloud URL.")
def bootstrap_cmd(endpoint: str) -> None:
    """Create (or converge) the organization and every infra/ stack in a running localcloud.

    Idempotent: a second run changes nothing and says so.
    """
    report = _post_json(endpoint, "bootstrap", {})
    changes = list(report.get("changes", []))
    for line in changes:
        click.echo(f"  + {line}")
    click.echo(
        f"{len(changes)} change(s) in {report.get('seconds')} s"
        if changes
        else "already bootstrapped: nothing changed"
    )


def _post_json(endpoint: str, path: str, payload: dict[str, object]) -> dict[str, Any]:
    """POST `payload` to the control API's `path` at `endpoint`, with the control token."""
    url = f"{endpoint.rstrip('/')}/_localcloud/{path}"
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", TOKEN_HEADER: control_token(endpoint)},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            data: dict[str, Any] = json.load(response)
            return data
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}").get("error", exc.reason)
        raise UserError(str(detail)) from None
    except urllib.error.URLError as exc:
        raise UserError(
            f"cannot reach localcloud at {url.rsplit('/_localcloud', 1)[0]} ({exc.reason}); "
            "start it with `hubspoke localcloud serve` or pass --endpoint"
        ) from None


@localcloud.command()
@click.argument("role_arn", required=False)
@click.option("--admin", is_flag=True, help="The management account's admin instead of a role.")
@click.option("--endpoint", default=DEFAULT_ENDPOINT, show_default=True, help="localcloud URL.")
@click.option("--json", "as_json", is_flag=True, help="Print the credentials as JSON.")
@click.option(
    "--credential-process",
    "as_process",
    is_flag=True,
    help="Print what an AWS config `credential_process` expects (SDKs then refresh by "
    "calling the command again before the session expires).",
)
def creds(
    role_arn: str | None, admin: bool, endpoint: str, as_json: bool, as_process: bool
) -> None:
    """Print `export AWS_...` lines for a session of ROLE_ARN.

    The session is issued as if the service the role's trust policy names had assumed it.
    Use it with: eval "$(hubspoke localcloud creds ROLE_ARN)". The control token sent is
    $LOCALCLOUD_CONTROL_TOKEN, else the one `serve` wrote for the endpoint's port.
    """
    if bool(role_arn) == admin:
        raise UserError("give either a ROLE_ARN or --admin")
    payload: dict[str, object] = {"admin": True} if admin else {"role_arn": role_arn}
    issued = _post_json(endpoint, "sessions", payload)
    if as_process:
        process = {
            "Version": 1,
            "AccessKeyId": issued["AccessKeyId"],
            "SecretAccessKey": issued["SecretAccessKey"],
        }
        if issued.get("SessionToken"):
            process["SessionToken"] = issued["SessionToken"]
            process["Expiration"] = issued["Expiration"]
        click.echo(json.dumps(process))
        return
    if as_json:
        click.echo(json.dumps(issued, indent=2))
        return
    env = {
        "AWS_ACCESS_KEY_ID": issued["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": issued["SecretAccessKey"],
        "AWS_SESSION_TOKEN": issued.get("SessionToken") or "",
        "AWS_DEFAULT_REGION": issued["Region"],
        "AWS_REGION": issued["Region"],
        "AWS_ENDPOINT_URL": endpoint.rstrip("/"),
    }
    click.echo(f"# {issued['Arn']}")
    for key, value in env.items():
        if key == "AWS_SESSION_TOKEN" and not value:
            click.echo("unset AWS_SESSION_TOKEN")
            continue
        click.echo(f"export {key}={shlex.quote(value)}")
