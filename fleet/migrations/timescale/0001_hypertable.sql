-- TimescaleDB only (applied when timescaledb is in pg_extension; re-run by every upgrade).
-- telemetry becomes a hypertable partitioned on the device's fix time in daily chunks. Daily
-- chunks keep the indexes of the chunks being written (today's, plus yesterday's for late
-- points) far inside a quarter of shared_buffers at this fleet's rate (~1 point/s/vehicle).
-- The table's own indexes already cover ts, so no default indexes are added.
SELECT create_hypertable(
    'telemetry', 'ts',
    chunk_time_interval    => INTERVAL '1 day',
    create_default_indexes => false,
    if_not_exists          => true,
    migrate_data           => true
);
