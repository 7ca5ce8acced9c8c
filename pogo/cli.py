"""``pogo``: the one command, with the sub-commands of DESIGN.md."""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path
from typing import NoReturn

import click
import psycopg

from city import CityError
from fleet import FleetError
from pogo.commands._context import AppContext
from pogo.commands.broker import broker
from pogo.commands.db import db
from pogo.commands.demo import demo
from pogo.commands.devices import devices
from pogo.commands.ingest import ingest
from pogo.commands.serve import serve
from pogo.commands.simulate import simulate
from pogo.commands.trips import trips
from pogo.errors import PogoError, UnavailableError, database_unreachable

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version("pogo-fleet-telemetry"), "-V", "--version", prog_name="pogo")
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


for command in (db, ingest, trips, serve, simulate, demo, devices, broker):
    cli.add_command(command)


#: Exit statuses (the README's table): a wrong setting, argument or domain error; a service that
#: is unreachable or refused, or an address in use.
EXIT_ERROR = 2
EXIT_UNAVAILABLE = 3


def _fail(message: str, status: int) -> NoReturn:
    click.echo(f"pogo: error: {message}", err=True)
    sys.exit(status)


def main() -> None:
    """Console entry point: every expected failure is one line on stderr and a documented exit
    status (2: a wrong setting or argument; 3: a service unreachable or an address in use)."""
    try:
        status = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except psycopg.OperationalError as exc:
        _fail(database_unreachable(exc), EXIT_UNAVAILABLE)
    except CityError as exc:  # the service's address is taken or cannot be bound
        _fail(str(exc), EXIT_UNAVAILABLE)
    except UnavailableError as exc:
        _fail(str(exc), EXIT_UNAVAILABLE)
    except (PogoError, FleetError) as exc:
        _fail(str(exc), EXIT_ERROR)
    if isinstance(status, int) and status:
        sys.exit(status)
