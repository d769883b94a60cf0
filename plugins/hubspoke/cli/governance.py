"""``hubspoke governance``: prove the governance invariants over ``infra/`` and ``config/``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hubspoke.cli.errors import UserError
from hubspoke.config import config_dir, load_config, project_root

if TYPE_CHECKING:
    from hubspoke.governance.invariants import InvariantResult
    from hubspoke.governance.world import GovernanceModel

_DIR = click.Path(file_okay=False, path_type=Path)
infra_option = click.option(
    "--infra",
    "infra_dir",
    type=_DIR,
    default=None,
    help="Folder holding organization.yaml, hub.yaml and spoke.yaml (default: infra/).",
)
config_option = click.option(
    "--config",
    "config_directory",
    type=_DIR,
    default=None,
    help="Folder holding accounts.yaml and models.yaml (default: $HUBSPOKE_CONFIG_DIR or config/).",
)


def load_model(infra_dir: Path | None, config_directory: Path | None) -> GovernanceModel:
    """Resolve the templates for every account; a bad template is a one-line user error."""
    from hubspoke.governance.cfn_errors import TemplateError
    from hubspoke.governance.world import build_model
    from hubspoke.iam import WorldValidationError

    config = load_config(config_directory or config_dir())
    try:
        model = build_model(infra_dir or project_root() / "infra", config)
        model.world  # noqa: B018 - validate the World now, while errors are still user errors
    except (TemplateError, WorldValidationError) as exc:
        raise UserError(str(exc)) from None
    return model


@click.group()
def governance() -> None:
    """Prove who can do what across the hub and spokes, from the templates alone."""


def _print_table(results: list[InvariantResult]) -> None:
    width = max(len(r.name) for r in results)
    click.echo(f"{'INVARIANT':<{width}}  {'RESULT':<8}  CHECKED")
    for r in results:
        click.echo(f"{r.name:<{width}}  {'holds' if r.holds else 'VIOLATED':<8}  {r.checked}")
        cx = r.counterexample
        if r.holds or cx is None:
            continue
        path = " -> ".join([cx.principal, *cx.via])
        click.echo(f"    principal:  {path}")
        click.echo(f"    action:     {cx.action}")
        click.echo(f"    resource:   {cx.resource}")
        if cx.context:
            shown = ", ".join(f"{k}={v}" for k, v in cx.context.items())
            click.echo(f"    context:    {shown}")
        click.echo(f"    decided by: {cx.statement} ({cx.outcome})")
        if cx.message:
            click.echo(f"    why:        {cx.message}")
        if r.violations > 1:
            click.echo(f"    ({r.violations - 1} more failing request(s) or statement(s))")
    failed = sum(not r.holds for r in results)
    click.echo(f"{len(results)} invariants: {len(results) - failed} hold, {failed} violated")


@governance.command("check")
@infra_option
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def check(infra_dir: Path | None, config_directory: Path | None, as_json: bool) -> None:
    """Evaluate every invariant; exit 1 if any is violated, 0 if all hold."""
    from hubspoke.governance.invariants import check_model

    results = check_model(load_model(infra_dir, config_directory))
    if as_json:
        payload = {
            "holds": all(r.holds for r in results),
            "invariants": [r.to_dict() for r in results],
        }
        click.echo(json.dumps(payload, indent=2))
    else:
        _print_table(results)
    if not all(r.holds for r in results):
        # SystemExit, not ctx.exit: the entry point runs click with standalone_mode=False,
        # which would turn ctx.exit's code into an ignored return value.
        sys.exit(1)


@governance.command("world")
@infra_option
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the whole World as JSON.")
def world(infra_dir: Path | None, config_directory: Path | None, as_json: bool) -> None:
    """Show the World resolved from the templates (--json: the format --world reads)."""
    from hubspoke.governance.world import world_to_json

    model = load_model(infra_dir, config_directory)
    if as_json:
        click.echo(world_to_json(model), nl=False)
        return
    data = model.world_dict
    click.echo(f"organization {model.organization_id} (management {model.accounts['management']})")
    for name, account in model.accounts.items():
        path = model.world.ou_path(account) or "-"
        click.echo(f"  {name:<10} {account}  {path}")
    click.echo(f"SCPs: {', '.join(data['scps']) or '-'}")
    click.echo("principals:")
    for arn, entry in data["principals"].items():
        count = len(entry["policies"])
        click.echo(f"  {arn}  ({count} {'policy' if count == 1 else 'policies'})")
    click.echo("resource policies:")
    for arn, entry in data["resources"].items():
        statements = len(entry["policy"].get("Statement") or [])
        click.echo(f"  {arn}  [{entry['name']}, {statements} statements]")
