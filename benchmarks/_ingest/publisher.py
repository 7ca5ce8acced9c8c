"""A publisher process: builds its share of the messages, waits for "go" on stdin, publishes
them at QoS 1 as fast as the broker acknowledges, prints ``done <count> <epoch seconds>``.

It is a lean MQTT 3.1.1 client on a plain socket: every PUBLISH packet is encoded before
"go", then written in large chunks with at most ``--window`` messages unacknowledged, and
every PUBACK is read and matched. A paho publisher spends about 0.2 ms of Python per
50-point message (0.4 CPU-seconds of this 2-core machine per run, taken from the broker and
the ingester being measured); this one spends almost nothing, so the rates measure the
receiving side. It is still QoS 1 end to end: ``done`` is printed only once the broker
acknowledged every message.
"""

from __future__ import annotations

import argparse
import contextlib
import select
import socket
import struct
import sys
import time

import numpy as np

from .workload import messages


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">H", len(raw)) + raw


def connect_packet(client_id: str, keepalive: int = 60) -> bytes:
    """CONNECT, MQTT 3.1.1, clean session."""
    body = _string("MQTT") + bytes([4, 0x02]) + struct.pack(">H", keepalive) + _string(client_id)
    return b"\x10" + _length(len(body)) + body


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    """PUBLISH at QoS 1."""
    body = _string(topic) + struct.pack(">H", packet_id) + payload
    return b"\x32" + _length(len(body)) + body


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise SystemExit("the broker closed the connection")
        data += chunk
    return data


def publish_all(host: str, port: int, client_id: str, items: list[tuple[str, bytes]],
                window: int, wait_go: bool = True) -> tuple[int, float]:  # fmt: skip
    """Publish ``items``; returns (messages acknowledged, epoch seconds of the last PUBACK)."""
    # Packet ids cycle through 1..65535; with at most ``window`` in flight none is reused
    # while still unacknowledged.
    packets = [publish_packet(t, p, i % 65535 + 1) for i, (t, p) in enumerate(items)]
    stream = memoryview(b"".join(packets))
    ends = np.cumsum([len(p) for p in packets])  # byte offset after each message
    total = len(packets)
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(connect_packet(client_id))
    connack = _recv_exact(sock, 4)
    if connack[0] != 0x20 or connack[3] != 0:
        raise SystemExit(f"connection refused: {connack!r}")
    if wait_go:
        print("ready", flush=True)
        sys.stdin.readline()
    sock.setblocking(False)
    sent_bytes = acked = 0
    acks = bytearray()
    pending = b""
    last = time.time()
    while acked < total:
        limit = int(ends[min(acked + window, total) - 1])  # the window's last byte
        want = sent_bytes < limit
        readable, writable, _ = select.select([sock], [sock] if want else [], [], 10)
        if not readable and not writable:
            raise SystemExit(f"no progress for 10 s: {acked} of {total} acknowledged")
        if writable and want:
            with contextlib.suppress(BlockingIOError):
                sent_bytes += sock.send(stream[sent_bytes:limit])
        if readable:
            chunk = sock.recv(65536)
            if not chunk:
                raise SystemExit("the broker closed the connection")
            pending += chunk
            whole = len(pending) - len(pending) % 4
            acks += pending[:whole]
            pending = pending[whole:]
            acked = len(acks) // 4
            last = time.time()
    sock.setblocking(True)
    sock.sendall(b"\xe0\x00")  # DISCONNECT
    sock.close()
    # Every PUBACK (0x40, length 2, packet id) for exactly the packet ids sent.
    got = np.frombuffer(bytes(acks), dtype=">u2").reshape(-1, 2)
    if acked != total or not (got[:, 0] == 0x4002).all():
        raise SystemExit(f"unexpected packets from the broker instead of {total} PUBACKs")
    if not np.array_equal(np.sort(got[:, 1]), np.sort(np.arange(total) % 65535 + 1)):
        raise SystemExit("the PUBACKs do not match the packet ids sent")
    return acked, last


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("host", "root", "kind"):
        parser.add_argument(f"--{name}", required=True)
    for name in ("port", "points", "start-ms", "part", "parts"):
        parser.add_argument(f"--{name}", type=int, required=True)
    parser.add_argument("--window", type=int, default=1000)
    args = parser.parse_args()
    items = messages(args.root, args.kind, args.points, args.start_ms, args.part, args.parts)
    client_id = f"bench-pub-{args.root.replace('/', '-')}-{args.part}"
    acked, last = publish_all(args.host, args.port, client_id, items, args.window)
    print(f"done {acked} {last}", flush=True)


if __name__ == "__main__":
    main()
