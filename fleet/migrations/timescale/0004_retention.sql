-- TimescaleDB only. Drop raw telemetry chunks older than POGO_TELEMETRY_RETENTION_DAYS. Trips,
-- vehicle state and the daily aggregate outlive them.
--
-- Not TimescaleDB's add_retention_policy: that drops chunks whatever the daily aggregate has
-- materialised (a backfill whose refresh never ran would lose its days). This job first
-- materialises every pending change older than the horizon, commits, then drops the chunks;
-- daily chunks and daily buckets both start at UTC midnight, so no dropped point lies in a day
-- the refresh left out.
CREATE OR REPLACE PROCEDURE pogo_telemetry_retention(job_id integer, config jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    horizon timestamptz := now() - (config ->> 'drop_after')::interval;
BEGIN
    CALL refresh_continuous_aggregate('telemetry_daily', NULL, horizon);
    COMMIT;
    PERFORM drop_chunks('telemetry', older_than => horizon);
END
$$;

-- The setting unset ('') keeps what the database has; 0 removes the policy; N days adds it or
-- alters it. A retention policy of TimescaleDB's own (from an older pogo) is replaced by this
-- one with the same horizon. Every change is a 'pogo:' notice the upgrade reports.
DO $$
DECLARE
    setting text := current_setting('pogo.telemetry_retention_days');
    wanted interval;
    legacy record;
    job record;
BEGIN
    SELECT j.job_id, (j.config ->> 'drop_after')::interval AS drop_after INTO legacy
    FROM timescaledb_information.jobs j
    WHERE j.proc_name = 'policy_retention'
      AND j.hypertable_schema = current_schema() AND j.hypertable_name = 'telemetry';
    SELECT j.job_id, j.config, (j.config ->> 'drop_after')::interval AS drop_after INTO job
    FROM timescaledb_information.jobs j
    WHERE j.proc_name = 'pogo_telemetry_retention' AND j.proc_schema = current_schema();

    IF setting = '' THEN
        wanted := coalesce(job.drop_after, legacy.drop_after);  -- keep what there is
    ELSIF setting::int = 0 THEN
        wanted := NULL;
    ELSE
        wanted := make_interval(days => setting::int);
    END IF;

    IF legacy.job_id IS NOT NULL THEN
        PERFORM remove_retention_policy('telemetry');
        IF wanted IS NULL THEN
            RAISE NOTICE 'pogo: retention policy removed (was: drop raw points older than %)',
                legacy.drop_after;
        ELSE
            RAISE NOTICE 'pogo: TimescaleDB''s retention policy (drop after %) replaced by pogo''s, which materialises the daily aggregate before dropping raw chunks',
                legacy.drop_after;
        END IF;
    END IF;
    IF wanted IS NULL THEN
        IF job.job_id IS NOT NULL THEN
            PERFORM delete_job(job.job_id);
            RAISE NOTICE 'pogo: retention policy removed (was: drop raw points older than %)',
                job.drop_after;
        END IF;
    ELSIF job.job_id IS NULL THEN
        PERFORM add_job('pogo_telemetry_retention', INTERVAL '1 day',
                        config => jsonb_build_object('drop_after', wanted::text));
        RAISE NOTICE 'pogo: retention policy added: drop raw points older than %', wanted;
    ELSIF job.drop_after IS DISTINCT FROM wanted THEN
        PERFORM alter_job(job.job_id,
                          config => jsonb_set(job.config, '{drop_after}', to_jsonb(wanted::text)));
        RAISE NOTICE 'pogo: retention policy changed: drop raw points older than % (was %)',
            wanted, job.drop_after;
    END IF;
END
$$;
