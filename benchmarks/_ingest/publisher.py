"""A publisher process: builds its share of the messages, waits for "go" on stdin, publishes
them at QoS 1 as fast as the broker acknowledges, prints ``done <count> <epoch seconds>``."""

from __future__ import annotations

import argparse
import sys
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .workload import messages


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("host", "root", "kind"):
        parser.add_argument(f"--{name}", required=True)
    for name in ("port", "points", "start-ms", "part", "parts"):
        parser.add_argument(f"--{name}", type=int, required=True)
    args = parser.parse_args()
    items = messages(args.root, args.kind, args.points, args.start_ms, args.part, args.parts)
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"bench-pub-{args.root.replace('/', '-')}-{args.part}",
        protocol=mqtt.MQTTv5,
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(args.host, args.port)
    client.loop_start()
    print("ready", flush=True)
    sys.stdin.readline()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in items]
    for info in infos:
        info.wait_for_publish(300)
        if not info.is_published():
            raise SystemExit("a message was not acknowledged by the broker")
    print(f"done {len(infos)} {time.time()}", flush=True)
    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    main()
