"""``hubspoke iam simulate``: ask the policy engine about one request."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hubspoke.cli.errors import UserError
from hubspoke.cli.governance import config_option, infra_option, load_model
from hubspoke.config import ConfigError, config_dir, load_accounts
from hubspoke.iam.arn import is_service_principal, try_parse_arn

if TYPE_CHECKING:
    from hubspoke.iam import World

_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*?]+$")
_CONTEXT_KEY = re.compile(r"^[A-Za-z0-9-]+:[A-Za-z0-9_./:*-]+$")


@click.group()
def iam() -> None:
    """Evaluate requests with the project's IAM policy engine."""


def parse_context(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``key=value`` pairs; a value with commas becomes a list (``aws:TagKeys=a,b``)."""
    context: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not _CONTEXT_KEY.match(key):
            raise UserError(
                f"--context {pair!r}: expected key=value with a condition key such as "
                "aws:PrincipalOrgID=o-abc123"
            )
        context[key] = value.split(",") if "," in value else value
    return context


def _validate(world: World, principal: str, action: str, resource: str) -> None:
    if not _ACTION.match(action):
        raise UserError(f"--action {action!r} is not an IAM action like sagemaker:CreateModel")
    if resource != "*" and try_parse_arn(resource) is None:
        raise UserError(
            f"--resource {resource!r} is not an ARN (arn:partition:service:region:account:...) "
            'or "*"'
        )
    if is_service_principal(principal):
        return
    parsed = try_parse_arn(principal)
    if parsed is None or not re.fullmatch(r"\d{12}", parsed.account):
        raise UserError(
            f"--principal {principal!r} is not a role, user, assumed-role or account root ARN "
            "(e.g. arn:aws:iam::111111111111:role/hubspoke-orchestrator)"
        )
    if parsed.resource == "root":
        return
    parts = parsed.resource.split("/")
    if parts[0] == "assumed-role" and len(parts) > 2:
        kind, name = "role", parts[1]
    else:
        kind, name = parts[0], parts[-1]
    if kind not in ("role", "user") or world.find(parsed.account, kind, name) is None:
        known = ", ".join(sorted(world.principals)) or "none"
        raise UserError(f"--principal {principal}: unknown principal (the world knows: {known})")


def _default_region(resource: str, world_file: Path | None, directory: Path | None) -> str:
    parsed = try_parse_arn(resource) if resource != "*" else None
    if parsed is not None and parsed.region:
        return parsed.region
    try:
        return load_accounts((directory or config_dir()) / "accounts.yaml").region
    except ConfigError:
        if world_file is None:
            raise
        return "us-east-1"


@iam.command("simulate")
@click.option("--principal", required=True, help="Role, user, assumed-role or account root ARN.")
@click.option("--action", required=True, help="IAM action, e.g. sagemaker:UpdateModelPackage.")
@click.option("--resource", required=True, help='Resource ARN, or "*".')
@click.option(
    "--context",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Condition key (repeatable); commas make a list. Defaults: aws:SecureTransport=true, "
    "aws:RequestedRegion=the resource's region (else the configured one).",
)
@click.option(
    "--world",
    "world_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="World JSON (hubspoke governance world --json); default: built from infra/ + config/.",
)
@infra_option
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
def simulate(
    principal: str,
    action: str,
    resource: str,
    pairs: tuple[str, ...],
    world_file: Path | None,
    infra_dir: Path | None,
    config_directory: Path | None,
    as_json: bool,
) -> None:
    """Print ALLOWED or DENIED and why. Exit 0 either way, 2 on bad input."""
    from hubspoke.iam import Request, RequestError, WorldValidationError, evaluate
    from hubspoke.iam import World as EngineWorld

    given = parse_context(pairs)
    if world_file is not None:
        try:
            world = EngineWorld.from_json_file(world_file)
        except WorldValidationError as exc:
            raise UserError(f"--world: {exc}") from None
    else:
        world = load_model(infra_dir, config_directory).world
    _validate(world, principal, action, resource)
    context: dict[str, Any] = {
        "aws:SecureTransport": "true",
        "aws:RequestedRegion": _default_region(resource, world_file, config_directory),
    }
    lowered = {k.lower() for k in given}
    context = {k: v for k, v in context.items() if k.lower() not in lowered} | given
    try:
        decision = evaluate(world, Request(principal, action, resource, context))
    except RequestError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        payload = {
            "allowed": decision.allowed,
            "kind": decision.kind,
            "denied_by": decision.denied_by,
            "policy": decision.policy,
            "sid": decision.sid,
            "message": decision.message,
            "request": {
                "principal": principal,
                "action": action,
                "resource": resource,
                "context": context,
            },
        }
        click.echo(json.dumps(payload, indent=2))
        return
    if decision.allowed:
        click.echo("ALLOWED")
    else:
        layer = f" by {decision.denied_by}" if decision.denied_by else ""
        kind = decision.kind.replace("_", " ")
        statement = ""
        if decision.policy:
            statement = f": {decision.policy}" + (f"#{decision.sid}" if decision.sid else "")
        click.echo(f"DENIED ({kind}{layer}{statement})")
    click.echo(decision.message)
