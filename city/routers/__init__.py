"""One router per resource; ``city.app`` includes them all."""
