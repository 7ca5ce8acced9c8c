"""The production-shaped stack: docker-compose is valid, the shipped broker config keeps the
project's limits, Prometheus scrapes the services compose runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml
from prometheus_client import CollectorRegistry

from city import BackgroundServer
from city.config import ServiceConfig
from ingest.metrics import IngestMetrics

ROOT = Path(__file__).resolve().parent.parent


def test_compose_runs_the_registrys_broker_config() -> None:
    """The broker runs the files `pogo broker config` writes from the registry (the same
    volume), after them, with a health check that requires anonymous clients be refused;
    each ingester has its own account and client id, with the registry check on."""
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert '["broker", "config", "--out", "/mosquitto/config"' in compose
    assert compose.count("- mosquitto-config:/mosquitto/config") == 2
    assert "broker-config:\n        condition: service_completed_successfully" in compose
    assert "[ $$? -eq 5 ]" in compose
    for i in (1, 2):
        assert f"mqtt://pogo-ingest-{i}:${{POGO_MQTT_INGEST_PASSWORD" in compose
    assert compose.count('POGO_INGEST_REQUIRE_REGISTERED: "true"') == 2
    assert "allow_anonymous" not in compose


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_compose_file_is_valid() -> None:
    """`docker-compose config` accepts the stack with its required variables set, and refuses
    it, naming the variable, when one is missing."""
    env = {
        **os.environ,
        "POGO_DB_PASSWORD": "x",
        "POGO_MQTT_INGEST_PASSWORD": "w",
        "POGO_API_WRITE_TOKEN": "y",
        "POGO_RIDER_KEY": "k" * 32,
        "GRAFANA_ADMIN_PASSWORD": "z",
    }
    ok = subprocess.run(
        ["docker-compose", "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    env.pop("POGO_DB_PASSWORD")
    missing = subprocess.run(
        ["docker-compose", "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode != 0
    assert "POGO_DB_PASSWORD" in missing.stderr


def test_prometheus_scrapes_compose_services() -> None:
    """Every Prometheus target is a service that docker-compose runs."""
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    services = set(re.findall(r"^  ([a-z0-9-]+):\s*$", compose, flags=re.MULTILINE))
    targets = re.findall(
        r'"([a-z0-9-]+):\d+"', (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text()
    )
    assert targets
    assert set(targets) <= services


def _exported_metrics(db_url: str) -> set[str]:
    """Every sample name the ingester's registry and the running city service's /metrics show."""
    exported: set[str] = set()
    ingest = IngestMetrics(CollectorRegistry())
    ingest.points.labels(result="stored").inc()  # labelled families show once a child exists
    ingest.dead_letters.labels(reason="lat_range").inc()
    ingest.messages.labels(result="accepted").inc()
    for family in ingest.registry.collect():
        exported.update(sample.name for sample in family.samples)
    with psycopg.connect(db_url, autocommit=True) as conn:  # the trip builder has run once
        conn.execute("INSERT INTO vehicles (fleet, vehicle) VALUES ('f', 'v')")
        conn.execute(
            "INSERT INTO trip_watermarks (vehicle_key, closed_until, received_until) "
            "SELECT vehicle_key, now(), now() FROM vehicles"
        )
    with BackgroundServer(ServiceConfig(dsn=db_url)) as server:
        text = httpx.get(f"{server.url}/metrics", timeout=10).text
    exported.update(
        line.split("{")[0].split(" ")[0] for line in text.splitlines() if not line.startswith("#")
    )
    return exported


DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
# PromQL words that are not series: functions are followed by "(", these are not.
_PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                 "unless", "bool", "offset", "inf", "nan"}  # fmt: skip
#: Series Prometheus makes itself for every target.
_PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


def _series(expr: str) -> set[str]:
    """The series an expression reads: every identifier that is not a function, a keyword, a
    label inside a matcher or a grouping clause, a duration or a string."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", text))
    return {n for n in names if n.lower() not in _PROMQL_WORDS}


def _dashboard_exprs() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expression) of every target of every shipped dashboard,
    panels nested in rows included."""
    found = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text(encoding="utf-8"))
        stack = list(board["panels"])
        while stack:
            panel = stack.pop()
            stack.extend(panel.get("panels", []))
            for target in panel.get("targets", []):
                found.append((path.name, panel["title"], target["expr"]))
    return found


def test_series_of_an_expression() -> None:
    """The extractor the dashboard test relies on finds series, not labels or functions."""
    expr = 'sum by (reason) (increase(pogo_a_total{job="x"}[1h])) / on (i) max(up) > bool 0'
    assert _series(expr) == {"pogo_a_total", "up"}


def test_dashboard_queries_only_metrics_that_exist(db_url: str) -> None:
    """Every series any shipped Grafana dashboard queries is exported by the ingester's
    registry, by the running city service's /metrics, or by Prometheus itself (``up``), so
    no panel stays empty in production; the dashboards' uids differ."""
    exprs = _dashboard_exprs()
    assert len(DASHBOARDS) >= 2 and exprs
    exported = _exported_metrics(db_url) | _PROMETHEUS_SERIES
    missing = sorted(
        (name, title, series) for name, title, expr in exprs for series in _series(expr) - exported
    )
    assert not missing, missing
    uids = [json.loads(p.read_text(encoding="utf-8"))["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids)


def test_dashboards_show_what_an_operator_watches() -> None:
    """The dashboards show the broker connection, the database, retries, the queue, the
    open alerts and the vehicles by battery state of health, and count dead letters per hour
    (increase over 1h), never as a per-second rate."""
    exprs = [expr for _, _, expr in _dashboard_exprs()]
    for series in (
        "pogo_ingest_broker_connected",
        "pogo_service_database_up",
        "pogo_ingest_db_retries_total",
        "pogo_ingest_queue_messages",
        "pogo_alerts_open",
        "pogo_vehicles_battery_health",
    ):
        assert any(series in _series(e) for e in exprs), series
    dead = [e for e in exprs if "pogo_ingest_dead_letters_total" in e]
    assert dead
    for expr in dead:
        assert "increase(pogo_ingest_dead_letters_total" in expr and "[1h]" in expr, expr
        assert "rate(" not in expr.replace("increase(", ""), expr


def test_alert_rules_query_only_metrics_that_exist(db_url: str) -> None:
    """Every metric an alert rule reads is exported (an alert on a missing series never fires)."""
    rules = (ROOT / "deploy" / "prometheus" / "alerts.yml").read_text(encoding="utf-8")
    queried = set(re.findall(r"\b(pogo_[a-z0-9_]+)", rules))
    assert len(queried) >= 10
    exported = _exported_metrics(db_url)
    assert queried <= exported, sorted(queried - exported)


def test_prometheus_loads_the_alert_rules() -> None:
    config = (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text(encoding="utf-8")
    assert re.search(r"^rule_files:\n  - alerts\.yml", config, re.MULTILINE)
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in compose


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_alert_rules_fire_and_clear() -> None:
    """`promtool check` accepts the config and rules, and `promtool test rules` proves that each
    alert fires when its condition has held long enough and clears when it goes."""
    prometheus = ROOT / "deploy" / "prometheus"
    for args in (
        ["check", "config", str(prometheus / "prometheus.yml")],
        ["check", "rules", str(prometheus / "alerts.yml")],
        ["test", "rules", str(ROOT / "tests" / "deploy" / "alerts_test.yml")],
    ):
        result = subprocess.run(["promtool", *args], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
    tested = set(
        re.findall(
            r"alertname: (\w+)",
            (ROOT / "tests" / "deploy" / "alerts_test.yml").read_text(encoding="utf-8"),
        )
    )
    defined = set(re.findall(r"- alert: (\w+)", (prometheus / "alerts.yml").read_text()))
    assert defined == tested


def test_image_installs_the_lock_and_its_context_leaves_local_state_out() -> None:
    """The Dockerfile installs from uv.lock (the versions CI tested) with uv pinned by hash, and
    .dockerignore keeps the virtual environments, git and caches out of the build context."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY pyproject.toml uv.lock" in dockerfile
    assert re.search(r"uv sync --locked", dockerfile)
    assert "--require-hashes -r scripts/uv-bootstrap.txt" in dockerfile
    bootstrap = (ROOT / "scripts" / "uv-bootstrap.txt").read_text(encoding="utf-8")
    assert re.search(r"^uv==\d+\.\d+\.\d+ \\$", bootstrap, re.MULTILINE)
    assert "--hash=sha256:" in bootstrap
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".uv", "**/__pycache__", ".pytest_cache", ".mypy_cache"} <= ignored
    assert {"build", "dist", "*.egg-info"} <= ignored


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_compose_passes_any_password_apart_from_the_url_and_offers_a_simulator() -> None:
    """A password with URL delimiters reaches every pogo service intact as PGPASSWORD, the
    database URL carries none; the simulator runs only in its opt-in profile."""
    password = "p@ss:w/rd?#%"
    env = {
        **os.environ,
        "POGO_DB_PASSWORD": password,
        "POGO_MQTT_INGEST_PASSWORD": "w",
        "POGO_API_WRITE_TOKEN": "y",
        "POGO_RIDER_KEY": "k" * 32,
        "GRAFANA_ADMIN_PASSWORD": "z",
    }

    def services(*args: str) -> dict[str, dict[str, object]]:
        out = subprocess.run(
            ["docker-compose", *args, "config"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return dict(yaml.safe_load(out)["services"])

    with_simulator = services("--profile", "simulator")
    assert with_simulator["simulator"]["profiles"] == ["simulator"]  # opt-in only
    assert with_simulator["simulator"]["command"][0] == "simulate"
    for name in ("migrate", "ingest-1", "ingest-2", "trips", "service", "simulator"):
        environment = with_simulator[name]["environment"]
        assert isinstance(environment, dict)
        assert environment["PGPASSWORD"] == password, name
        assert password not in str(environment["POGO_DATABASE_URL"]), name
