"""The vectorised hysteresis (fleet/alerts/hysteresis.py) against the obvious per-fix loop."""

from __future__ import annotations

import numpy as np
import pytest

from fleet.alerts import AlertError, flips


def reference(
    subject: list[int],
    t_ms: list[int],
    high: list[bool],
    low: list[bool],
    initial: list[bool],
    after_ms: list[int],
    fixes: int,
    seconds: float,
) -> tuple[list[int], list[bool], list[bool]]:
    """The slow rule, one fix at a time: count each condition's consecutive run and its
    start; a confirmed run after the watermark sets the state."""
    out_index: list[int] = []
    out_opened: list[bool] = []
    final = list(initial)
    prev_subject = None
    state, hi_run, lo_run, hi_start, lo_start = False, 0, 0, 0, 0
    for i in range(len(subject)):
        s = subject[i]
        if s != prev_subject:
            state = bool(initial[s])
            hi_run = lo_run = 0
            hi_start = lo_start = 0
            prev_subject = s
        if high[i]:
            if hi_run == 0:
                hi_start = t_ms[i]
            hi_run += 1
        else:
            hi_run = 0
        if low[i]:
            if lo_run == 0:
                lo_start = t_ms[i]
            lo_run += 1
        else:
            lo_run = 0
        new = state
        if t_ms[i] > after_ms[s]:
            if hi_run >= fixes and t_ms[i] - hi_start >= seconds * 1000:
                new = True
            if lo_run >= fixes and t_ms[i] - lo_start >= seconds * 1000:
                new = False
        if new != state:
            out_index.append(i)
            out_opened.append(new)
            state = new
        final[s] = state
    return out_index, out_opened, final


def test_one_noisy_fix_opens_nothing_and_a_confirmed_run_opens_once() -> None:
    """A lone fix below the threshold changes nothing; three in a row open the alert at the
    third; staying low, or sitting in the margin band, never opens it again."""
    soc = np.array([50, 19, 50, 19, 18, 17, 16, 22, 21, 17, 18])
    out = flips(np.zeros(11, int), np.arange(11) * 5000, soc < 20, soc >= 25, [False], [-1], 3, 10)
    assert out.index.tolist() == [5]
    assert out.opened.tolist() == [True]
    assert out.final.tolist() == [True]


def test_it_clears_once_beyond_the_margin() -> None:
    """An open alert clears only on a confirmed run past the margin (a rebound into the band
    does not clear it), once."""
    soc = np.array([19, 22, 24, 26, 27, 28, 29, 30])
    out = flips(np.zeros(8, int), np.arange(8) * 5000, soc < 20, soc >= 25, [True], [-1], 3, 10)
    assert out.index.tolist() == [5]
    assert out.opened.tolist() == [False]
    assert out.final.tolist() == [False]


def test_a_burst_of_fixes_shorter_than_confirm_s_confirms_nothing() -> None:
    """Three fixes inside one second do not span confirm_s: nothing opens until time passes."""
    t = np.array([0, 100, 200, 12_000])
    high = np.ones(4, bool)
    out = flips(np.zeros(4, int), t, high, ~high, [False], [-1], 3, 10)
    assert out.index.tolist() == [3]


def test_fixes_up_to_the_watermark_count_but_flip_nothing() -> None:
    """A run that completed before the watermark was acted on by an earlier run; one that
    completes after it flips at the first fix after it."""
    high = np.ones(5, bool)
    t = np.arange(5) * 5000
    assert flips(np.zeros(5, int), t, high, ~high, [True], [20_000], 3, 10).index.size == 0
    out = flips(np.zeros(5, int), t, high, ~high, [False], [12_000], 3, 10)
    assert out.index.tolist() == [3]  # confirmed at 2 (10 s), but 2 is not after 12 s


def test_subjects_are_independent() -> None:
    """A run never continues across two subjects, and each keeps its own state."""
    subject = np.array([0, 0, 1, 1, 1, 2])
    high = np.array([1, 1, 1, 1, 1, 0], bool)
    out = flips(subject, np.arange(6) * 5000, high, ~high, [False, False, True], [-1] * 3, 3, 0)
    assert out.index.tolist() == [4]
    assert out.final.tolist() == [False, True, True]  # subject 2 has one low fix only


def test_matches_the_per_fix_loop_on_random_sequences() -> None:
    """Many random subjects, conditions, initial states and watermarks: the same flips and
    final states as the loop."""
    rng = np.random.default_rng(3)
    for _ in range(200):
        m = int(rng.integers(1, 6))
        n = int(rng.integers(0, 60))
        subject = np.sort(rng.integers(0, m, n))
        t = np.cumsum(rng.integers(1, 8000, n))
        level = rng.integers(0, 3, n)  # 0 low, 1 band, 2 high
        initial = rng.random(m) < 0.5
        after = rng.integers(-1, int(t.max()) if n else 1, m)
        fixes, seconds = int(rng.integers(1, 4)), float(rng.integers(0, 15))
        got = flips(subject, t, level == 2, level == 0, initial, after, fixes, seconds)
        index, opened, final = reference(
            subject.tolist(), t.tolist(), (level == 2).tolist(), (level == 0).tolist(),
            initial.tolist(), after.tolist(), fixes, seconds,
        )  # fmt: skip
        assert got.index.tolist() == index
        assert got.opened.tolist() == opened
        assert got.final.tolist() == final


def test_both_conditions_at_one_fix_are_refused() -> None:
    """high and low together are a caller's bug, said so."""
    with pytest.raises(AlertError, match="together"):
        flips([0], [0], [True], [True], [False], [-1], 1, 0)
