"""``pogo serve``."""

from __future__ import annotations

import click

from pogo.errors import PogoError

__all__ = ["serve"]


@click.command()
def serve() -> None:
    """Run the city service."""
    raise PogoError("pogo serve is not built yet (issue 6)")
