"""``pogo``: the one command, with the sub-commands of DESIGN.md."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fleet.errors import FleetError
from pogo.commands._context import AppContext
from pogo.commands.db import db
from pogo.commands.demo import demo
from pogo.commands.ingest import ingest
from pogo.commands.serve import serve
from pogo.commands.simulate import simulate
from pogo.commands.trips import trips
from pogo.errors import PogoError

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A TOML settings file (also POGO_CONFIG); environment variables override it.",
)
@click.pass_context
def cli(ctx: click.Context, config: Path | None) -> None:
    """POGO fleet telemetry: ingest, trips, CO2 avoided and the city's figures."""
    ctx.obj = AppContext(config)


for command in (db, ingest, trips, serve, simulate, demo):
    cli.add_command(command)


def main() -> None:
    """Console entry point: domain errors become one line on stderr and exit status 2."""
    try:
        status = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (PogoError, FleetError) as exc:
        click.echo(f"pogo: error: {exc}", err=True)
        sys.exit(2)
    if isinstance(status, int) and status:
        sys.exit(status)
