"""`pogo broker config` against a real Mosquitto started from its output: only a motorcycle
may speak for itself, the ingester reads all and writes nothing, nobody takes over a session,
changes apply on SIGHUP, and the whole pipeline runs over TLS."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
import pytest

from fleet import devices
from pogo.mosquitto import BROKER_LIMITS
from pogo.settings import load_settings
from simulators import simulate
from simulators.publish import MqttTarget, live_start, publish
from tests.fixtures.secured_broker import Probe, SecuredBroker, run_pogo
from tests.ingest.harness import RunningIngester, config_for, count, wait_for
from tests.simulators.builders import scenario
from wire.topics import format_topic

NOT_AUTHORIZED = 0x87


def _point(offset_s: float = 0.0) -> bytes:
    ts = int((time.time() - 60 + offset_s) * 1000)
    return f'{{"ts": {ts}, "lat": 32.2361, "lon": -7.9531}}'.encode()


def _points(db_url: str, fleet: str, vehicle: str) -> int:
    return count(
        db_url,
        "SELECT count(*) FROM telemetry JOIN vehicles USING (vehicle_key)"
        " WHERE fleet = %s AND vehicle = %s",
        (fleet, vehicle),
    )


@contextmanager
def _ingester(
    broker: SecuredBroker, url: str | None = None, **env: str
) -> Iterator[RunningIngester]:
    """The ingester in a thread, on the ingester's account (its username is its client id)."""
    settings = load_settings(
        environ={**broker.env(), "POGO_MQTT_URL": url or broker.ingester_url, **env}
    )
    config = config_for(settings, client_id=broker.ingester_user, session_expiry_s=600)
    ingester = RunningIngester(config, broker.db_url).start()
    try:
        yield ingester
    finally:
        ingester.close()


def _telemetry(fleet: str, vehicle: str) -> str:
    return format_topic(fleet, vehicle, "telemetry")


def test_config_comes_from_the_registry(db_url: str, tmp_path: Path) -> None:
    """The files name every active device (revoked ones left out) with the registry's hash,
    grant each only its own subtree, give the ingester read-only access to the tree, refuse
    anonymous clients and keep the project's queue limits with persistence in DIR."""
    with psycopg.connect(db_url) as conn:
        a = devices.add_device(conn, "city", "m1")
        devices.add_device(conn, "city", "m2")
        devices.revoke_device(conn, "city", "m2")
    out = tmp_path / "conf"
    env = {"POGO_DATABASE_URL": db_url, "POGO_MQTT_URL": "mqtt://ing-1:s3cret@127.0.0.1:1883"}
    result = run_pogo("broker", "config", "--out", str(out), "--port", "1999",
                      "--ingester", "ing-2", env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    conf = dict(
        line.split(" ", 1) for line in (out / "mosquitto.conf").read_text().splitlines()
        if line and not line.startswith("#")
    )  # fmt: skip
    assert conf["allow_anonymous"] == "false"
    assert conf["use_username_as_clientid"] == "true"
    assert conf["listener"] == "1999"
    assert conf["persistence_location"] == f"{out.resolve()}/"
    assert all(conf[key] == value for key, value in BROKER_LIMITS.items())
    passwords = dict(line.split(":", 1) for line in (out / "passwd").read_text().splitlines())
    assert set(passwords) == {"ing-1", "ing-2", "city/m1"}
    assert devices.verify_password(a.password, passwords["city/m1"])
    assert devices.verify_password("s3cret", passwords["ing-2"])
    assert (out / "passwd").stat().st_mode & 0o077 == 0
    acl = (out / "acl").read_text()
    assert "user city/m1\ntopic write pogo/v1/city/m1/telemetry\n" in acl
    assert "city/m2" not in acl
    assert "user ing-2\ntopic read pogo/v1/#\n" in acl
    assert "topic write pogo/v1/#" not in acl and "pattern" not in acl


def test_broker_config_needs_the_ingesters_account(db_url: str, tmp_path: Path) -> None:
    """Without a user and password in POGO_MQTT_URL, `pogo broker config` stops with a line
    naming the setting (never its value), writing nothing."""
    env = {"POGO_DATABASE_URL": db_url, "POGO_MQTT_URL": "mqtt://127.0.0.1:1883"}
    result = run_pogo("broker", "config", "--out", str(tmp_path / "x"), env=env)
    assert result.returncode == 2
    assert "POGO_MQTT_URL" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()


def test_anonymous_and_wrong_passwords_are_refused(secured_broker: SecuredBroker) -> None:
    """No anonymous client, no unknown user, no wrong password; the device's own is accepted."""
    cred = secured_broker.add("city", "m1")
    secured_broker.apply()
    time.sleep(0.3)
    for username, password in [(None, None), ("city/m1", "wrong"), ("city/m9", cred.password),
                               (secured_broker.ingester_user, cred.password)]:  # fmt: skip
        probe = Probe(secured_broker.url(username, password))
        assert probe.connack is not None and probe.connack.is_failure, (username, probe.connack)
        probe.close()
    good = Probe(secured_broker.url(cred.username, cred.password))
    assert good.accepted
    good.close()


def test_a_device_speaks_only_for_itself(secured_broker: SecuredBroker) -> None:
    """A device's own points are stored; the same device publishing on another's topic gets
    PUBACK 0x87 (not authorised) and nothing of it is stored; the ingester may publish
    nothing; a device subscribed to the whole tree receives nothing of others'."""
    one = secured_broker.add("city", "m1")
    two = secured_broker.add("city", "m2")
    secured_broker.apply()
    time.sleep(0.3)
    db = secured_broker.db_url
    with _ingester(secured_broker) as ingester:
        spy = Probe(secured_broker.url(two.username, two.password))
        spy.subscribe("pogo/v1/#")
        device = Probe(secured_broker.url(one.username, one.password))
        assert device.publish(_telemetry("city", "m1"), _point()).value == 0
        wait_for(lambda: _points(db, "city", "m1") == 1, what="the device's own point")
        forged = device.publish(_telemetry("city", "m2"), _point(1))
        assert forged.value == NOT_AUTHORIZED
        own_again = device.publish(_telemetry("city", "m1"), _point(2))
        assert own_again.value == 0
        wait_for(lambda: _points(db, "city", "m1") == 2, what="the second own point")
        assert _points(db, "city", "m2") == 0  # the forged point went nowhere
        assert count(db, "SELECT count(*) FROM dead_letters") == 0
        assert spy.received == []  # m1's messages were stored, never shown to m2
        device.close()
        spy.close()
    assert ingester.result is True
    # The ingester's account (its client id is its username, so only once it is gone).
    account = Probe(secured_broker.ingester_url)
    assert account.publish(_telemetry("city", "m1"), _point(3)).value == NOT_AUTHORIZED
    account.close()


def test_no_client_takes_over_the_ingesters_session(secured_broker: SecuredBroker) -> None:
    """A device connecting with the ingester's client id gets a session of its own (the
    broker uses the username as client id): the ingester stays connected and keeps storing,
    and a wrong password on the ingester's username is refused."""
    dev = secured_broker.add("city", "m1")
    secured_broker.apply()
    time.sleep(0.3)
    db = secured_broker.db_url
    with _ingester(secured_broker) as ingester:
        generation = ingester.ingester._generation
        rogue = Probe(
            secured_broker.url(dev.username, dev.password),
            client_id=secured_broker.ingester_user,
            clean_start=False,
        )
        assert rogue.accepted
        impostor = Probe(
            secured_broker.url(secured_broker.ingester_user, "guess"),
            client_id=secured_broker.ingester_user,
        )
        assert not impostor.accepted
        device = Probe(secured_broker.url(dev.username, dev.password), client_id="pogo-ingest")
        for i in range(20):
            assert device.publish(_telemetry("city", "m1"), _point(i)).value == 0
        wait_for(lambda: _points(db, "city", "m1") == 20, what="every point stored")
        assert rogue.received == []
        assert ingester.ingester._generation == generation  # never disconnected
        assert ingester.value("pogo_ingest_broker_connected") == 1
        for probe in (rogue, impostor, device):
            probe.close()


def test_revoke_and_rotate_apply_on_sighup(secured_broker: SecuredBroker) -> None:
    """After `pogo devices revoke` and `rotate`, `pogo broker config` plus SIGHUP: the
    revoked device is refused (its live connection dropped), the rotated one's old password
    refused and its new one accepted, without restarting the broker."""
    keep = secured_broker.add("city", "m1")
    gone = secured_broker.add("city", "m2")
    secured_broker.apply()
    time.sleep(0.3)
    live = Probe(secured_broker.url(gone.username, gone.password))
    assert live.accepted
    env = secured_broker.env()
    assert run_pogo("devices", "revoke", "city", "m2", env=env).returncode == 0
    rotated = run_pogo("devices", "rotate", "city", "m1", "--json", env=env)
    assert rotated.returncode == 0, rotated.stderr
    new_password = json.loads(rotated.stdout)["password"]
    assert new_password != keep.password
    assert secured_broker.broker is not None and secured_broker.broker.process is not None
    pid = secured_broker.broker.process.pid
    secured_broker.apply()
    assert live.disconnected.wait(5)  # dropped on reload
    time.sleep(0.3)
    assert not Probe(secured_broker.url(gone.username, gone.password)).accepted
    assert not Probe(secured_broker.url(keep.username, keep.password)).accepted
    assert Probe(secured_broker.url(keep.username, new_password)).accepted
    assert secured_broker.broker.process.pid == pid and secured_broker.broker.running


def test_pipeline_over_tls(tls_broker: SecuredBroker) -> None:
    """Simulated devices publish over TLS with their own accounts, the ingester reads over
    TLS (mqtts:// with POGO_MQTT_CA_FILE): every distinct point is stored; a client that
    does not trust the CA cannot connect."""
    assert tls_broker.tls is not None
    ca = tls_broker.tls.ca
    now = datetime.now(UTC)
    config = scenario(days=0.1, vehicles=3, start=live_start(now, 0.1, None))
    config = config.replace(trips_per_day=100.0, utc_offset_h=float((12 - now.hour) % 24))
    sim = simulate(config)
    with psycopg.connect(tls_broker.db_url) as conn:
        creds = devices.provision(conn, config.fleet, config.vehicle_ids)
    tls_broker.apply()
    time.sleep(0.3)
    # A client trusting only the system's CAs refuses the broker's certificate.
    with (
        socket.create_connection(("127.0.0.1", tls_broker.tls_port or 0), 5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")
    url = tls_broker.url(tls_broker.ingester_user, tls_broker.ingester_password, tls=True)
    with _ingester(tls_broker, url=url, POGO_MQTT_CA_FILE=str(ca)):
        target = MqttTarget(
            port=tls_broker.tls_port or 0,
            tls=True,
            ca_file=str(ca),
            credentials={v: (c.username, c.password) for v, c in creds.items()},
        )
        counts = publish(sim, target, mode="batch")
        assert counts.acked == counts.messages
        pairs = np.unique(
            np.stack([sim.points["vehicle_index"].astype(np.int64),
                      sim.points["ts"].astype(np.int64)]), axis=1,
        )  # fmt: skip
        wait_for(
            lambda: count(tls_broker.db_url, "SELECT count(*) FROM telemetry") == pairs.shape[1],
            what="every point over TLS",
        )
