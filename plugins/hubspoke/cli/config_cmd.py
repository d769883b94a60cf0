"""``hubspoke config``: show and check the configuration."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hubspoke.config import config_dir, load_accounts, load_models


@click.group()
def config() -> None:
    """Show or check config/accounts.yaml and config/models.yaml."""


@config.command("check")
@click.option(
    "--config-dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder holding accounts.yaml and models.yaml (default: $HUBSPOKE_CONFIG_DIR or config/).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the resolved configuration as JSON.")
def check(directory: Path | None, as_json: bool) -> None:
    """Validate both files; exit 2 with one line naming the bad key otherwise."""
    directory = directory or config_dir()
    accounts = load_accounts(directory / "accounts.yaml")
    models = load_models(directory / "models.yaml")
    if as_json:
        payload = {"accounts": accounts.model_dump(), "models": models.model_dump()}
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(
        f"{directory / 'accounts.yaml'}: ok ({accounts.region}, hub {accounts.accounts.hub.id})"
    )
    names = ", ".join(m.name for m in models.models)
    click.echo(f"{directory / 'models.yaml'}: ok ({len(models.models)} model(s): {names})")
