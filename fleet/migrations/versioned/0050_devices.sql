-- The device registry: one MQTT credential per motorcycle. Only the password's hash is kept,
-- in Mosquitto's own PBKDF2-SHA512 format ($7$iterations$salt$hash, base64), so that the
-- broker's password file is rendered from this table and no password is ever stored. The
-- MQTT username is "{fleet}/{vehicle}" (ids never contain '/', so it maps back one to one).
-- A revoked device keeps its row (who it was, when it was revoked); re-adding it reinstates
-- it with a new password. No foreign key to vehicles: a device is registered before it ever
-- publishes, and the ingester creates the vehicle row on its first message.
CREATE TABLE devices (
    fleet          text        NOT NULL CHECK (fleet ~ '^[A-Za-z0-9_-]{1,64}$'),
    vehicle        text        NOT NULL CHECK (vehicle ~ '^[A-Za-z0-9_-]{1,64}$'),
    password_hash  text        NOT NULL
                   CHECK (password_hash ~ '^\$7\$[0-9]+\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    rotated_at     timestamptz,
    revoked_at     timestamptz,
    PRIMARY KEY (fleet, vehicle)
);
