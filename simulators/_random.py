"""Counter-based random numbers: a value per (key, salt), independent of how work is chunked.

The renderer draws each point's noise from its own key (vehicle and time), so rendering a
window in one piece or in daily chunks gives the same points.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["hash_normal", "hash_uniform", "splitmix64"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser over an array of 64-bit keys (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = keys + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def _mix(keys: npt.ArrayLike, salt: int) -> npt.NDArray[np.uint64]:
    k = np.asarray(keys).astype(np.uint64, copy=False)
    with np.errstate(over="ignore"):
        return splitmix64(k ^ splitmix64(np.full(1, salt, dtype=np.uint64)))


def hash_uniform(keys: npt.ArrayLike, salt: int) -> npt.NDArray[np.float64]:
    """Uniform numbers in [0, 1), one per key, a pure function of (key, salt)."""
    bits = _mix(keys, salt) >> np.uint64(11)
    return bits.astype(np.float64) * (1.0 / 9007199254740992.0)


def hash_normal(keys: npt.ArrayLike, salt: int) -> npt.NDArray[np.float64]:
    """Standard normal numbers, one per key (Box-Muller over the two 32-bit halves of one
    hash: noise needs no more resolution)."""
    bits = _mix(keys, salt * 2 + 1)
    u1 = (bits >> np.uint64(32)).astype(np.float64) * (1.0 / 4294967296.0)
    u2 = (bits & np.uint64(0xFFFFFFFF)).astype(np.float64) * (1.0 / 4294967296.0)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)
