"""The ``hubspoke`` command line.

Each command group lives in its own module and is registered in :data:`COMMANDS`; a user error
is reported as one line on stderr with exit code 2, never as a traceback.
"""

from __future__ import annotations

import importlib

import click

from hubspoke.cli.errors import run_cli

# (module, attribute) of every command group or command, in help order.
COMMANDS: list[tuple[str, str]] = [
    ("hubspoke.cli.approval_cmd", "approve"),
    ("hubspoke.cli.approval_cmd", "reject"),
    ("hubspoke.cli.config_cmd", "config"),
    ("hubspoke.cli.demo_cmd", "demo"),
    ("hubspoke.cli.governance", "governance"),
    ("hubspoke.cli.iam", "iam"),
    ("hubspoke.cli.ledger_cmd", "ledger"),
    ("hubspoke.cli.localcloud_cmd", "localcloud"),
    ("hubspoke.cli.pipeline_cmd", "pipeline"),
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hubspoke")
def cli() -> None:
    """hubspoke: hub-and-spoke MLOps across AWS accounts.

    The hub account owns the model registry, artifacts and audit ledger and runs Airflow;
    the dev, staging and prod spokes train, validate and serve. Run `hubspoke COMMAND --help`.
    """


for _module, _attribute in COMMANDS:
    cli.add_command(getattr(importlib.import_module(_module), _attribute))


def main() -> None:
    run_cli(cli)
