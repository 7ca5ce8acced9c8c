"""Device and fleet simulators: the Benguerir scenario, faults, load, ground truth."""

__all__: list[str] = []
