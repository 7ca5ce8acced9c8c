"""``pogo trips``."""

from __future__ import annotations

import click

from pogo.errors import PogoError

__all__ = ["trips"]


@click.command()
def trips() -> None:
    """Build trips, kilometres and CO2 from new telemetry (once, or --follow)."""
    raise PogoError("pogo trips is not built yet (issue 5)")
