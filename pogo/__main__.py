"""``python -m pogo`` is ``pogo``."""

from pogo.cli import main

main()
