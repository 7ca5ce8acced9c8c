"""The city service: mobility figures beside the learning-city programme tables."""

__all__: list[str] = []
