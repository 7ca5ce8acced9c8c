"""``pogo ingest``."""

from __future__ import annotations

import click

from pogo.errors import PogoError

__all__ = ["ingest"]


@click.command()
def ingest() -> None:
    """Run the ingester until SIGTERM/SIGINT, then flush, acknowledge and exit 0."""
    raise PogoError("pogo ingest is not built yet (issue 3)")
