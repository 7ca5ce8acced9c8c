"""MQTT to the database: topics, payload codecs, validation, the batch writer, the consumer."""

__all__: list[str] = []
