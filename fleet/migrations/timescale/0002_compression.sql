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

-- The policy is added once and altered only when the setting differs from what it holds (its
-- job id and history stay); every change is a 'pogo:' notice the upgrade reports.
DO $$
DECLARE
    wanted interval := make_interval(
        days => current_setting('pogo.telemetry_compress_after_days')::int);
    job record;
BEGIN
    SELECT j.job_id, j.config, (j.config ->> 'compress_after')::interval AS after
    INTO job
    FROM timescaledb_information.jobs j
    WHERE j.proc_name = 'policy_compression'
      AND j.hypertable_schema = current_schema() AND j.hypertable_name = 'telemetry';
    IF job.job_id IS NULL THEN
        PERFORM add_compression_policy('telemetry', compress_after => wanted);
        RAISE NOTICE 'pogo: compression policy added: compress chunks older than %', wanted;
    ELSIF job.after IS DISTINCT FROM wanted THEN
        PERFORM alter_job(job.job_id,
                          config => jsonb_set(job.config, '{compress_after}',
                                              to_jsonb(wanted::text)));
        RAISE NOTICE 'pogo: compression policy changed: compress chunks older than % (was %)',
            wanted, job.after;
    END IF;
END
$$;
