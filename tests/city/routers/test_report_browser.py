"""The city report in a real headless browser (Debian's chromium) served by a real uvicorn."""

from __future__ import annotations

import itertools
import json
import math
import re
import shutil
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from city import BackgroundServer
from tests.city.browser import CHROMIUM, FLAGS, chromium
from tests.city.builders import t, trip, vehicle

ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")
def test_report_renders_in_chromium_with_its_figures(
    db: psycopg.Connection, live_server: BackgroundServer, tmp_path: Path
) -> None:
    """Chromium loads /report from the service: the rendered DOM holds the key figures, three
    charts with one bar per day, the programme tables and the methodology; a screenshot of
    the page is saved."""
    v = vehicle(db)
    for day in range(14):
        for k in range(day % 5 + 1):
            trip(db, v, t("2025-04-01T07:00") + timedelta(days=day, minutes=30 * k), km=4.0,
                 rider=f"r{day}-{k}")  # fmt: skip
    url = f"{live_server.url}/report"

    dom = _chromium(tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = dom.stdout
    trips = sum(day % 5 + 1 for day in range(14))
    assert re.search(rf'data-figure="trips">{trips}<', page), page[:2000]
    assert re.search(rf'data-figure="distance_km">{trips * 4}<', page)
    for figure in ("trips", "distance", "co2"):
        chart = re.search(rf'<svg [^>]*data-figure="{figure}".*?</svg>', page, re.S)
        assert chart, figure
        assert chart.group(0).count('class="bar"') == 14
    assert 'data-programme="rhamna-educatec"' in page
    assert "How the figures are made" in page

    shot = tmp_path / "report.png"
    result = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", url)
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    if ARTIFACTS.is_dir():
        shutil.copyfile(shot, ARTIFACTS / "city-report.png")


_LAYOUT = """(() => {
  const box = (e) => (e ? e.getBoundingClientRect().height : 0);
  const tables = [...document.querySelectorAll('table.programme')].map((t) => ({
    id: t.dataset.programme,
    height: box(t),
    content: box(t.caption) + box(t.tHead) + [...t.tBodies].reduce((s, b) => s + box(b), 0),
    tallestRow: Math.max(0, ...[...t.querySelectorAll('tbody tr')].map(box)),
  }));
  const sources = [...document.querySelectorAll('.source')];
  const line = sources.length ? parseFloat(getComputedStyle(sources[0]).lineHeight) : 1;
  return {
    // The widest thing laid out, but for what scrolls inside its own box (.wide).
    scrollWidth: Math.max(document.documentElement.scrollWidth,
      ...[...document.querySelectorAll('body *')].filter((e) => !e.closest('.wide > *'))
        .map((e) => e.getBoundingClientRect().right)),
    widest: [...document.querySelectorAll('body *')].filter((e) => !e.closest('.wide > *'))
      .sort((a, b) => b.getBoundingClientRect().right - a.getBoundingClientRect().right)[0]
      .outerHTML.slice(0, 200),
    innerWidth: window.innerWidth,
    bodyLine: parseFloat(getComputedStyle(document.body).lineHeight),
    tables,
    sourceLines: Math.max(0, ...sources.map((s) => box(s) / line)),
    values: [...document.querySelectorAll('table.programme td.num')]
      .map((c) => c.textContent.trim()),
    co2: document.querySelector('[data-figure="co2_avoided"]').textContent.trim(),
    ticks: [...document.querySelectorAll('svg.chart text.tick[text-anchor="end"]')]
      .map((t) => t.textContent),
    text: document.body.innerText,
  };
})()"""


def _png_width(path: Path) -> int:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(header[16:20], "big")


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")
@pytest.mark.parametrize(
    ("width", "mobile"), [(1280, False), (390, True)], ids=["desktop", "phone"]
)
def test_report_reads_well_at_desktop_and_phone_widths(
    db: psycopg.Connection,
    live_server: BackgroundServer,
    tmp_path: Path,
    width: int,
    mobile: bool,
) -> None:
    """Laid out by Chromium at a desktop and a phone width: nothing overflows sideways, each
    programme table is as tall as its own rows, sources stay short, units agree with their
    number, CO2 reads in kg or tonnes (never 0.00), axis ticks are round, no draft note shows;
    a whole-page screenshot at that width is taken."""
    v = vehicle(db)
    for day in range(3):
        trip(db, v, t("2025-04-01T07:00") + timedelta(days=day), km=12.5, rider=f"r{day}")
    url = f"{live_server.url}/report"
    with chromium(tmp_path / "profile") as page:
        page.open(url, width=width, height=900, mobile=mobile)
        layout = page.evaluate(_LAYOUT)
        shot = tmp_path / f"report-{width}.png"
        page.screenshot(shot)

    assert layout["scrollWidth"] <= layout["innerWidth"], layout["widest"]
    assert layout["tables"]
    for table in layout["tables"]:
        assert table["height"] <= table["content"] + 4, f"{table['id']} is stretched"
        assert table["tallestRow"] <= layout["bodyLine"] * 9, table
    assert layout["sourceLines"] <= (6 if mobile else 3)
    for value in layout["values"]:
        assert not re.search(r"(^|\s)1 [a-z]+s$", value), f"{value!r}: one of a thing, plural"
    assert re.fullmatch(r"[\d,.]+ (kg|tonnes)", layout["co2"]), layout["co2"]
    assert not layout["co2"].startswith("0.0")
    assert layout["ticks"]
    charts: list[list[float]] = []
    for tick in layout["ticks"]:
        value = float(tick.replace(",", ""))
        if value == 0:
            charts.append([])
        charts[-1].append(value)
    assert len(charts) == 3
    for ticks in charts:
        steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
        assert len(steps) == 1, ticks
        (step,) = steps
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert round(mantissa, 9) in (1, 2, 5), ticks  # never 12.5 / 37.5
    assert "before publication" not in layout["text"]
    assert _png_width(shot) == width
    assert shot.stat().st_size > 20_000
    if ARTIFACTS.is_dir():
        shutil.copyfile(shot, ARTIFACTS / f"city-report-{'phone' if mobile else 'desktop'}.png")


_WATCH_CSP = """window.__violations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"""
_STYLED = """JSON.stringify({
  violations: window.__violations,
  sheets: document.styleSheets.length,
  rules: document.styleSheets.length ? document.styleSheets[0].cssRules.length : 0,
  maxWidth: getComputedStyle(document.body).maxWidth,
  charts: document.querySelectorAll('svg.chart rect.bar').length,
})"""


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")
def test_report_works_under_its_content_security_policy(
    db: psycopg.Connection, live_server: BackgroundServer, tmp_path: Path
) -> None:
    """Chromium enforces the report's CSP: the page loads with no violation, its stylesheet
    applies (the body's max-width comes from it) and its charts draw; an inline style and a
    style element added afterwards are blocked and reported, so the watch does see what the
    policy refuses."""
    v = vehicle(db)
    for day in range(3):
        trip(db, v, t("2025-04-01T07:00") + timedelta(days=day), km=5.0, rider=f"r{day}")
    with chromium(tmp_path / "profile") as page:
        page.call("Page.enable")
        page.call("Page.addScriptToEvaluateOnNewDocument", source=_WATCH_CSP)
        page.open(f"{live_server.url}/report", width=1280, height=900)
        loaded = json.loads(page.evaluate(_STYLED))
        page.evaluate(
            "document.body.setAttribute('style', 'max-width: 10px');"
            "const s = document.createElement('style'); s.textContent = 'body{max-width:20px}';"
            "document.head.appendChild(s); true"
        )
        time.sleep(0.3)  # violation events are dispatched asynchronously
        tampered = json.loads(page.evaluate(_STYLED))

    assert loaded["violations"] == [], loaded
    assert loaded["sheets"] == 1 and loaded["rules"] > 10
    assert loaded["maxWidth"] == "1100px"
    assert loaded["charts"] == 3 * 3
    assert sorted(tampered["violations"]) == ["style-src-attr inline", "style-src-elem inline"]
    assert tampered["maxWidth"] == "1100px"
