-- What a backfill (an import of history) wrote, per vehicle and chunk: the device-time range it
-- covered and when it was written. Imported points carry the received_at of their history,
-- which lies behind the trip builder's watermark; the builder finds them here instead, so the
-- next run rebuilds those ranges. Written in the import's own transaction.
CREATE TABLE telemetry_imports (
    import_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vehicle_key  integer     NOT NULL,
    first_ts     timestamptz NOT NULL,
    last_ts      timestamptz NOT NULL,
    imported_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK (first_ts <= last_ts)
);
CREATE INDEX telemetry_imports_imported_at_idx ON telemetry_imports (imported_at);
