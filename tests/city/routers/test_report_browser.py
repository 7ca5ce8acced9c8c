"""The city report in a real headless browser (Debian's chromium) served by a real uvicorn."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from city.server import BackgroundServer
from tests.city.builders import t, trip, vehicle

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
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
