"""``hubspoke demo``: the whole hub-and-spoke journey on localcloud, with progress."""

from __future__ import annotations

import click

from hubspoke.cli.errors import UserError


@click.command()
@click.option("--port", default=0, show_default=True, help="localcloud port (0: a free one).")
def demo(port: int) -> None:
    """Retrain in dev, register and approve in the hub, validate in staging, answer the
    production gate, canary into prod, serve real predictions, print the ledger and timings."""
    from hubspoke.demo import DemoFailed, run_demo

    try:
        run_demo(click.echo, port=port)
    except DemoFailed as exc:
        raise UserError(f"demo failed: {exc}") from None
    click.echo("\nthe model went dev → hub → staging → prod, every step governed and recorded")
