-- A dead letter is stored once. The ingester acknowledges a message only after the
-- transaction that wrote its rows committed, so a crash between the commit and the PUBACK
-- makes the broker redeliver it: telemetry and events are protected by their primary keys,
-- and from here on dead letters are too. A dead letter is identified by its topic, reason,
-- detail (which names the offending point and field) and payload, through one fixed-size
-- fingerprint (topics and details can be long, payloads up to the size limit): the same one
-- arriving again (a redelivery, or a device resending the same bad bytes) adds to
-- `occurrences` and moves `last_received_at` instead of adding a row.
ALTER TABLE dead_letters
    ADD COLUMN IF NOT EXISTS fingerprint bytea GENERATED ALWAYS AS (
        -- fixed-length digests of the text fields, then the payload: unambiguous
        sha256(decode(md5(topic) || md5(reason) || md5(coalesce(detail, '')), 'hex') || payload)
    ) STORED,
    ADD COLUMN IF NOT EXISTS occurrences integer NOT NULL DEFAULT 1
        CHECK (occurrences >= 1),
    ADD COLUMN IF NOT EXISTS last_received_at timestamptz;

-- Fold the repeats already stored into their first row.
WITH groups AS (
    SELECT min(dead_letter_id) AS keep, count(*) AS n, max(received_at) AS last
    FROM dead_letters
    GROUP BY fingerprint
)
UPDATE dead_letters AS d
SET occurrences = g.n, last_received_at = g.last
FROM groups AS g
WHERE d.dead_letter_id = g.keep;

DELETE FROM dead_letters AS d
USING dead_letters AS first
WHERE first.fingerprint = d.fingerprint
  AND first.dead_letter_id < d.dead_letter_id;

ALTER TABLE dead_letters ALTER COLUMN last_received_at SET NOT NULL;

CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_fingerprint_idx ON dead_letters (fingerprint);
