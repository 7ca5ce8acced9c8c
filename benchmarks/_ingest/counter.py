"""The client's limit: a bare paho subscriber (QoS 1, automatic acks) that only counts
messages; prints ``done <count> <epoch seconds of the last one>`` once ``--expect`` arrived and
nothing more came for a second (so extra deliveries would be seen)."""

from __future__ import annotations

import argparse
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--expect", type=int, required=True)
    args = parser.parse_args()
    state = {"n": 0, "last": 0.0}
    subscribed = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        state["n"] += 1
        state["last"] = time.time()

    def on_subscribe(*_: object) -> None:
        subscribed.set()

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"bench-counter-{args.root.replace('/', '-')}",
        protocol=mqtt.MQTTv5,
    )
    client.on_message = on_message
    client.on_subscribe = on_subscribe
    client.connect(args.host, args.port)
    client.subscribe(f"{args.root}/#", qos=1)
    client.loop_start()
    subscribed.wait(10)
    print("ready", flush=True)
    while state["n"] < args.expect:
        time.sleep(0.01)
    time.sleep(1.0)
    print(f"done {state['n']} {state['last']}", flush=True)
    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    main()
