"""The sub-commands of ``pogo``, one module each; ``pogo.cli`` assembles them."""
