"""The naive reference: the "script bridge" — json.loads in on_message, one INSERT per point
and a commit per message (still QoS 1, still resolving vehicles, still idempotent). Prints
``done <epoch seconds>`` right after the commit that brought it to ``--expect`` points, so
its rate is timed as exactly as the ingester's (from its commit log)."""

from __future__ import annotations

import argparse
import json
import threading
import time

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--expect", type=int, required=True)
    args = parser.parse_args()
    conn = psycopg.connect(args.dsn)
    keys: dict[str, int] = {}
    state = {"points": 0}
    subscribed = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        fleet, vehicle, _ = msg.topic[len(args.root) + 1 :].split("/")
        key = keys.get(vehicle)
        if key is None:
            row = conn.execute(
                "INSERT INTO vehicles (fleet, vehicle) VALUES (%s, %s) ON CONFLICT (fleet, vehicle)"
                " DO UPDATE SET fleet = EXCLUDED.fleet RETURNING vehicle_key",
                (fleet, vehicle),
            ).fetchone()
            assert row is not None
            key = keys[vehicle] = int(row[0])
        body = json.loads(msg.payload)
        for p in body if isinstance(body, list) else [body]:
            conn.execute(
                "INSERT INTO telemetry (vehicle_key, ts, lat, lon, speed_kmh, heading_deg, hdop,"
                " soc_pct, voltage_v, current_a, batt_temp_c, odometer_km, seq, received_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())"
                " ON CONFLICT DO NOTHING",
                (
                    key, p["ts"], p["lat"], p["lon"], p.get("speed_kmh"), p.get("heading_deg"),
                    p.get("hdop"), p.get("soc_pct"), p.get("voltage_v"), p.get("current_a"),
                    p.get("batt_temp_c"), p.get("odometer_km"), p.get("seq"),
                ),
            )  # fmt: skip
        conn.commit()
        state["points"] += len(body) if isinstance(body, list) else 1
        if state["points"] == args.expect:
            print(f"done {time.time()}", flush=True)

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"bench-naive-{args.root.replace('/', '-')}",
        protocol=mqtt.MQTTv5,
    )
    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect(args.host, args.port)
    client.subscribe(f"{args.root}/#", qos=1)
    client.loop_start()
    subscribed.wait(10)
    print("ready", flush=True)
    threading.Event().wait()  # until killed


if __name__ == "__main__":
    main()
