"""CO2-avoided methodology: factors with their sources, per-trip and period totals."""

__all__: list[str] = []
