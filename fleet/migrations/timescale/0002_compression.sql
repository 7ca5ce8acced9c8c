-- TimescaleDB only. Columnar compression of old chunks: segment by vehicle (each vehicle's
-- points stored together, which is what every query filters on), order by time descending.
-- compress_after comes from POGO_TELEMETRY_COMPRESS_AFTER_DAYS, which the settings hold
-- above POGO_INGEST_MAX_AGE_DAYS: a point older than that is dead-lettered, so offline
-- buffering never lands late points in a compressed chunk.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM timescaledb_information.hypertables
        WHERE hypertable_schema = current_schema() AND hypertable_name = 'telemetry'
          AND compression_enabled
    ) THEN
        ALTER TABLE telemetry SET (
            timescaledb.compress,
            timescaledb.compress_segmentby = 'vehicle_key',
            timescaledb.compress_orderby   = 'ts DESC'
        );
    END IF;
END
$$;

SELECT remove_compression_policy('telemetry', if_exists => true);
SELECT add_compression_policy(
    'telemetry',
    compress_after => make_interval(days => current_setting('pogo.telemetry_compress_after_days')::int)
);
