"""``pogo simulate``."""

from __future__ import annotations

import click

from pogo.errors import PogoError

__all__ = ["simulate"]


@click.command()
def simulate() -> None:
    """Run the fleet simulator."""
    raise PogoError("pogo simulate is not built yet (issue 4)")
