"""Turning expected failures into one clear line instead of a traceback."""

from __future__ import annotations

import sys

import click

from hubspoke.config import ConfigError

# Errors a user can cause and fix; anything else is a bug and keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, FileNotFoundError)


class UserError(click.ClickException):
    """A problem the user can fix; printed as ``error: <message>``, exit code 2."""

    exit_code = 2


def run_cli(group: click.Group) -> None:
    try:
        # Without standalone mode click returns what ctx.exit(code) asked for.
        code = group.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except USER_ERRORS as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    if isinstance(code, int) and code:
        sys.exit(code)
