"""simulators/wire.py: payloads in the three telemetry encodings, as the ingester reads them."""

from __future__ import annotations

import numpy as np
import orjson

from ingest.payload import decode_telemetry
from simulators import STATE_RIDING, simulate
from simulators.wire import binary_payload, json_points, telemetry_messages
from tests.simulators.builders import scenario
from wire import binary


def _points() -> np.ndarray:
    return simulate(scenario(days=0.5, faults=True)).points


def test_binary_matches_the_ingesters_encoder() -> None:
    """The vectorised binary payload is byte for byte what wire.binary.encode makes."""
    points = _points()
    sample = np.concatenate([points[points["state"] == STATE_RIDING][:50], points[:50]])
    dicts = json_points(sample)
    for item, ts in zip(dicts, sample["ts"].astype(np.int64).tolist(), strict=True):
        item["ts"] = ts
    assert binary_payload(sample) == binary.encode(dicts)


def test_every_mode_carries_every_point_once() -> None:
    """json, batch and binary messages together carry each transmitted point exactly once,
    and the ingester's decoder reads them back with the same timestamps."""
    points = _points()
    expected = np.sort(points["ts"].astype(np.int64))
    for mode in ("json", "batch", "binary"):
        messages = telemetry_messages(points, mode)
        assert int(messages.points.sum()) == points.size
        assert (np.diff(messages.send_ms) >= 0).all()
        decoded: list[int] = []
        for payload in messages.payload:
            got = decode_telemetry(payload, fast=False)  # the general path keeps the dicts
            assert not got.errors
            if got.encoding == "binary":
                decoded.extend(np.asarray(got.items)["ts_ms"].tolist())
            else:
                decoded.extend(_ms(p["ts"]) for p in got.items)
        assert np.array_equal(np.sort(np.array(decoded)), expected), mode
        if mode == "batch":
            assert max(len(orjson.loads(p)) for p in messages.payload) > 1


def _ms(value: str) -> int:
    return int(np.datetime64(value.rstrip("Z"), "ms").astype(np.int64))


def test_absent_values_are_left_out() -> None:
    """A parked point has no heading on the wire (JSON key missing, binary bit clear)."""
    points = _points()
    parked = points[np.isnan(points["heading_deg"])][:3]
    assert all("heading_deg" not in d for d in json_points(parked))
    decoded = binary.decode(binary_payload(parked))
    assert np.isnan(decoded["heading_deg"]).all()
    assert np.isfinite(decoded["soc_pct"]).all()
