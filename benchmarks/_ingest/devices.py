"""A publisher process of many devices: one MQTT connection per vehicle (as a fleet connects),
each with its own account and, with ``--ca``, over TLS. Builds its share of the messages
(the vehicles ``v`` with ``v % parts == part``), connects every device, prints ``ready``,
waits for "go" on stdin, publishes at QoS 1 with at most ``--window`` messages in flight per
device, and prints ``done <count> <epoch seconds of the last PUBACK>``.

Lean like ``publisher.py`` (every packet encoded before "go", one asyncio loop for all the
connections) so that the rates measure the receiving side; the same process serves the open
run (no ``--credentials``, plain TCP) and the secured one, so the two differ only in what the
broker and the clients must do for authentication, ACLs and TLS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import struct
import sys
import time
from collections import defaultdict
from pathlib import Path

from .publisher import _length, _string, publish_packet
from .workload import messages


def connect_packet(client_id: str, username: str | None, password: str | None) -> bytes:
    """CONNECT, MQTT 3.1.1, clean session, with username and password when given."""
    flags = 0x02 | (0xC0 if username else 0)
    body = _string("MQTT") + bytes([4, flags]) + struct.pack(">H", 60) + _string(client_id)
    if username:
        body += _string(username) + _string(password or "")
    return b"\x10" + _length(len(body)) + body


class Device:
    """One vehicle's connection and its messages."""

    def __init__(self, vehicle: str, packets: list[bytes], window: int) -> None:
        self.vehicle = vehicle
        self.packets = packets
        self.window = window
        self.last = 0.0

    async def connect(self, host: str, port: int, context: ssl.SSLContext | None,
                      username: str | None, password: str | None) -> None:  # fmt: skip
        self.reader, self.writer = await asyncio.open_connection(
            host, port, ssl=context, server_hostname=host if context else None
        )
        self.writer.write(connect_packet(f"bench-{self.vehicle}", username, password))
        connack = await self.reader.readexactly(4)
        if connack[0] != 0x20 or connack[3] != 0:
            raise SystemExit(f"{self.vehicle}: connection refused: {connack!r}")

    async def run(self) -> int:
        total = len(self.packets)
        sent = min(self.window, total)
        self.writer.write(b"".join(self.packets[:sent]))
        acked, pending = 0, b""
        while acked < total:
            chunk = await self.reader.read(65536)
            if not chunk:
                raise SystemExit(f"{self.vehicle}: the broker closed the connection")
            pending += chunk
            whole = len(pending) - len(pending) % 4
            acks, pending = pending[:whole], pending[whole:]
            if any(acks[i] != 0x40 for i in range(0, len(acks), 4)):
                raise SystemExit(f"{self.vehicle}: a packet other than PUBACK")
            acked += len(acks) // 4
            more = min(acked + self.window, total)
            if more > sent:
                self.writer.write(b"".join(self.packets[sent:more]))
                sent = more
            await self.writer.drain()
        self.last = time.time()
        self.writer.write(b"\xe0\x00")  # DISCONNECT
        await self.writer.drain()
        self.writer.close()
        return acked


async def _main(args: argparse.Namespace) -> None:
    items = messages(args.root, args.kind, args.points, args.start_ms)
    by_vehicle: dict[str, list[bytes]] = defaultdict(list)
    for topic, payload in items:
        vehicle = topic.split("/")[-2]
        if int(vehicle[1:]) % args.parts == args.part:
            packet_id = len(by_vehicle[vehicle]) % 65535 + 1
            by_vehicle[vehicle].append(publish_packet(topic, payload, packet_id))
    credentials: dict[str, str] = {}
    if args.credentials:
        credentials = json.loads(Path(args.credentials).read_text(encoding="utf-8"))
    context = ssl.create_default_context(cafile=args.ca) if args.ca else None
    devices = [Device(v, p, args.window) for v, p in sorted(by_vehicle.items())]
    await asyncio.gather(
        *(
            d.connect(
                args.host,
                args.port,
                context,
                f"{args.fleet}/{d.vehicle}" if credentials else None,
                credentials.get(d.vehicle),
            )
            for d in devices
        )
    )
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    counts = await asyncio.gather(*(d.run() for d in devices))
    print(f"done {sum(counts)} {max(d.last for d in devices)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("host", "root", "kind"):
        parser.add_argument(f"--{name}", required=True)
    for name in ("port", "points", "start-ms", "part", "parts"):
        parser.add_argument(f"--{name}", type=int, required=True)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--fleet", default="bench")
    parser.add_argument("--credentials", default=None, help="JSON: vehicle -> password")
    parser.add_argument("--ca", default=None, help="TLS with this CA file")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
