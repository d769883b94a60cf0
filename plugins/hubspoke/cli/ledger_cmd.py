"""``hubspoke ledger``: read and verify the audit ledger in the hub bucket."""

from __future__ import annotations

import json

import click

from hubspoke.cli.errors import UserError
from hubspoke.cli.sessions import endpoint_option, role_session
from hubspoke.config import load_accounts
from hubspoke.ledger import Ledger, verify_records


def _ledger(endpoint: str | None) -> Ledger:
    accounts = load_accounts()
    # The orchestrator writes the ledger; reading it as that role needs no extra grant.
    session = role_session(
        accounts.orchestrator_arn, endpoint, region=accounts.region, name="hubspoke-ledger-cli"
    )
    return Ledger(session.client("s3"), accounts.artifacts_bucket)


@click.group()
def ledger() -> None:
    """The hash-chained audit ledger of every model's journey."""


@ledger.command()
@click.argument("model")
@click.option("--version", type=int, default=None, help="Only records of this model version.")
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON.")
@endpoint_option
def show(model: str, version: int | None, as_json: bool, endpoint: str | None) -> None:
    """Print MODEL's ledger records, oldest first.

    Stops at a record that cannot be read, names it and exits 1 (``verify`` says more).
    """
    store = _ledger(endpoint)
    records, problem = store.readable(model, version)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in records], indent=2))
    elif not records and problem is None:
        raise UserError(
            f"no ledger records for {model!r}" + (f" version {version}" if version else "")
        )
    else:
        for r in records:
            where = f" {r.environment}" if r.environment else ""
            ver = f"v{r.version}" if r.version is not None else "-"
            click.echo(f"{r.seq:>4}  {r.at}  {ver:<5} {r.event}{where}  by {r.actor}")
            for key, value in r.details.items():
                click.echo(f"{'':>6}{key}: {value}")
    if problem is not None:
        click.echo(
            f"error: s3://{store.bucket}/{problem.key} is {problem.problem}; "
            f"records from there on are not shown. Run `hubspoke ledger verify {model}`.",
            err=True,
        )
        raise SystemExit(1)


@ledger.command()
@click.argument("model", required=False)
@endpoint_option
def verify(model: str | None, endpoint: str | None) -> None:
    """Check every chain (or MODEL's): intact, and each deployment preceded by its approvals.

    Exits 1 and names the first bad record otherwise.
    """
    store = _ledger(endpoint)
    models = [model] if model else store.models()
    failed = False
    for name in models:
        result = verify_records(name, store.raw(name))
        if result.ok:
            click.echo(f"{name}: ok ({result.records} records)")
        else:
            failed = True
            click.echo(f"{name}: BROKEN at {result.problem}")
    if not models:
        click.echo("the ledger is empty")
    if failed:
        raise SystemExit(1)
