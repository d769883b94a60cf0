"""``hubspoke localcloud``: run the embedded multi-account AWS and get credentials for it."""

from __future__ import annotations

import json
import shlex
import signal
import urllib.error
import urllib.request
from typing import Any

import click

from hubspoke.cli.errors import UserError

DEFAULT_PORT = 4599
DEFAULT_ENDPOINT = f"http://127.0.0.1:{DEFAULT_PORT}"


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
    first, so the hub and spoke roles exist and `creds` works at once.
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
    if not no_bootstrap:
        try:
            report = bootstrap(cloud)
        except ValueError as exc:
            cloud.stop()
            raise UserError(f"bootstrap failed: {exc}") from None
        click.echo(f"bootstrapped {len(report.changes)} resources in {report.seconds:.1f} s")
    click.echo(f"localcloud listening on {cloud.url} (region {cloud.region})")
    click.echo(f"admin credentials: hubspoke localcloud creds --admin --endpoint {cloud.url}")
    try:
        cloud.serve_forever()
    except KeyboardInterrupt:
        click.echo("localcloud stopped")


@localcloud.command("bootstrap")
@click.option("--endpoint", default=DEFAULT_ENDPOINT, show_default=True, help="localcloud URL.")
def bootstrap_cmd(endpoint: str) -> None:
    """Create (or converge) the organization and every infra/ stack in a running localcloud.

    Idempotent: a second run changes nothing and says so.
    """
    report = _post_json(f"{endpoint.rstrip('/')}/_localcloud/bootstrap", {})
    changes = list(report.get("changes", []))
    for line in changes:
        click.echo(f"  + {line}")
    click.echo(
        f"{len(changes)} change(s) in {report.get('seconds')} s"
        if changes
        else "already bootstrapped: nothing changed"
    )


def _post_json(url: str, payload: dict[str, object]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
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
    Use it with: eval "$(hubspoke localcloud creds ROLE_ARN)".
    """
    if bool(role_arn) == admin:
        raise UserError("give either a ROLE_ARN or --admin")
    payload: dict[str, object] = {"admin": True} if admin else {"role_arn": role_arn}
    issued = _post_json(f"{endpoint.rstrip('/')}/_localcloud/sessions", payload)
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
