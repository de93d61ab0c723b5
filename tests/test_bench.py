"""The benchmark harness (bench/) keeps working: one run at --size tiny, every scenario.

This measures nothing and asserts no timing: it checks that each scenario ran and wrote
one well-formed JSON line with plausible counts (every delivery received once, with a
valid signature, and logged). It runs against whatever this test run uses: PostgreSQL
and Redis in CI, or the embedded defaults (SQLite and the filesystem broker), in a
database, queue and work directory of its own; bench/results.jsonl is never written.
The peer scenario (django-webhook) needs its virtualenv: made once from PyPI (about 15 s),
then cached in var/bench/peer-venv; a machine that cannot install it skips (fails in CI).
"""

import hashlib
import hmac
import importlib.util
import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from bench import config, measure, scenarios
from bench.peerside import ensure_venv, worker_command
from bench.receiver import _peer
from bench.report import latest_medians, markdown, verdicts
from bench.run import parse_args, planned
from tests.support.required import skip_or_fail

ROOT = Path(__file__).resolve().parent.parent
DELIVERY_SCENARIOS = ("fanout", "paced", "isolation")
TINY = config.SIZES["tiny"]
EXPECTED_DELIVERIES = {
    "fanout": TINY.fanout_events * TINY.fanout_endpoints,
    "paced": int(TINY.paced_rate * TINY.paced_seconds),
    "isolation": TINY.isolation_events * TINY.isolation_endpoints,
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    if importlib.util.find_spec("aiohttp") is None:
        pytest.skip("the benchmark's receiver needs aiohttp (pip install -r requirements-bench.txt)")
    workdir = tmp_path_factory.mktemp("bench")
    output = workdir / "results.jsonl"
    _peer_venv_or_skip(workdir / "peer-venv.log")
    results_before = config.RESULTS_PATH.stat().st_mtime_ns if config.RESULTS_PATH.exists() else None
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "CELERY_QUEUE")}
    finished = subprocess.run(
        [sys.executable, "-m", "bench", "--size", "tiny", "--output", str(output),
         "--work-dir", str(workdir / "work"), "--db-suffix", f"_benchtest{os.getpid()}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert finished.returncode == 0, f"exit {finished.returncode}\n{finished.stderr[-6000:]}"
    results_after = config.RESULTS_PATH.stat().st_mtime_ns if config.RESULTS_PATH.exists() else None
    assert results_after == results_before, "a --output run must not touch bench/results.jsonl"
    printed = [json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")]
    written = [json.loads(line) for line in output.read_text().splitlines()]
    assert printed == written, "stdout and the results file must hold the same lines"
    return {line["scenario"]: line for line in written}


def _peer_venv_or_skip(log_path: Path) -> None:
    """The peer scenario's virtualenv (django-webhook 0.0.15 from PyPI, about 15 s once; then cached in
    var/bench/peer-venv), made here so that a machine that cannot install it skips, saying why."""
    try:
        ensure_venv(config.PEER_VENV, log_path)
    except (OSError, subprocess.SubprocessError) as exc:
        skip_or_fail(f"the bench's peer scenario needs bench/peer/requirements.txt installed into "
                     f"{config.PEER_VENV}, which failed ({exc}; see {log_path})")


def test_every_scenario_wrote_one_line_with_its_provenance(tiny_run):
    assert list(tiny_run) == list(config.SCENARIOS)
    for name, line in tiny_run.items():
        assert "error" not in line, f"{name}: {line.get('error')}"
        assert line["size"] == "tiny" and line["run"] == 1 and line["runs"] == 1
        assert line["commit"] == "" or re.fullmatch(r"[0-9a-f]{40}", line["commit"]), line["commit"]
        datetime.fromisoformat(line["timestamp"])
        assert line["worker_command"][:3] == ["-A", "calendence", "worker"]
        for figure, value in line["headline"].items():
            if "cpu" in figure:  # counted in clock ticks: at this size one may be 0, and a ratio over it None
                assert value is None or value >= 0, (figure, value)
            else:
                assert isinstance(value, (int, float)) and value > 0, (figure, value)


def test_sender_limit_counts_every_request(tiny_run):
    figures = tiny_run["sender"]["figures"]
    assert figures["received"] == figures["requests"] == TINY.sender_requests
    assert figures["errors"] == figures["invalid_signatures"] == 0
    # The receiver is one of the processes the machine's busy CPU counts.
    receiver_ms = figures["receiver_cpu_ms_per_request"]
    assert 0 <= receiver_ms <= figures["machine_cpu_ms_per_request"] + tick_slack_ms(1, figures["received"])


def tick_slack_ms(processes: int, count: int) -> float:
    """How far, per item, the processes' CPU may seem to exceed the machine's: both are counted in
    clock ticks (10 ms), each process's and each core's rounded down on its own."""
    return (processes + (os.cpu_count() or 1)) * 1000 / measure.CLOCK_TICKS / count


def _assert_all_delivered_once_and_logged(figures: dict, expected: int) -> None:
    assert expected > 0
    assert figures["complete"] is True
    assert figures["received"] == figures["deliveries"] == expected
    assert figures["by_status"] == {"succeeded": expected}
    assert figures["invalid_signatures"] == figures["unknown_paths"] == 0
    assert figures["attempts_logged"] >= expected and figures["attempts_open"] == 0
    assert figures["every_attempt_logged"] is True


def test_throughput_burst_and_drain_deliver_every_booking(tiny_run):
    figures = tiny_run["throughput"]["figures"]
    for phase in ("burst", "drain"):
        _assert_all_delivered_once_and_logged(figures[phase], TINY.throughput_bookings)
        assert figures[phase]["deliveries_per_s"] > 0
    assert figures["burst"]["latency"]["count"] == TINY.throughput_bookings
    for phase in ("burst", "drain"):  # the whole machine's CPU holds the workers' and the receiver's
        usage = figures[phase]
        parts = usage["worker_cpu_ms_per_delivery"] + usage["receiver_cpu_ms_per_delivery"]
        # At this size a phase may be shorter than the sampler's 0.5 s (nothing counted).
        assert all(usage[f"{part}_cpu_ms_per_delivery"] >= 0 for part in ("worker", "receiver", "machine"))
        slack_ms = tick_slack_ms(len(usage["workers"]) + 1, usage["received"])
        assert parts <= usage["machine_cpu_ms_per_delivery"] + slack_ms


@pytest.mark.parametrize("name", DELIVERY_SCENARIOS)
def test_delivery_scenarios_deliver_everything(tiny_run, name):
    _assert_all_delivered_once_and_logged(tiny_run[name]["figures"], EXPECTED_DELIVERIES[name])


def test_isolation_counts_healthy_and_slow_endpoints_apart(tiny_run):
    figures = tiny_run["isolation"]["figures"]
    assert figures["healthy_received"] == figures["healthy_expected"] == TINY.isolation_events * 9
    assert figures["slow_received"] == TINY.isolation_events
    assert figures["fanout_deliveries_per_s"] == tiny_run["fanout"]["figures"]["deliveries_per_s"]


def test_isolation_measures_healthy_endpoints_beside_hanging_ones_against_a_control(tiny_run):
    hanging = tiny_run["isolation"]["figures"]["hanging"]
    healthy = TINY.hanging_events * (TINY.hanging_endpoints - TINY.hanging_count)
    assert hanging["healthy_received"] == hanging["healthy_expected"] == healthy
    assert hanging["healthy_deliveries_per_s"] > 0 and hanging["control_deliveries_per_s"] > 0
    assert hanging["healthy_latency"]["count"] == hanging["control_latency"]["count"] == healthy
    # Both runs paced below the same run's fan-out rate, so that the latency is not a burst's.
    fanout = tiny_run["fanout"]["figures"]["deliveries_per_s"]
    paced = scenarios.SHARE_OF_FANOUT * fanout / TINY.hanging_endpoints
    assert hanging["paced_events_per_s"] == round(paced, 2)


def test_api_scenario_answers_every_request_and_reads_its_cpu_against_the_bare_view(tiny_run):
    figures = tiny_run["api"]["figures"]
    assert figures["all_succeeded"] is True
    expected = int(TINY.api_rate * TINY.api_seconds)
    for operation in ("floor", "register", "list", "get"):
        phase, status = figures[operation], "201" if operation == "register" else "200"
        assert (phase["requests"], phase["errors"], phase["statuses"]) == (expected, 0, {status: expected})
        assert phase["cpu_ms_per_request"] >= 0  # /proc counts 10 ms ticks: a tiny phase may read none
    floor = figures["floor"]["cpu_ms_per_request"]
    for operation in ("register", "list", "get"):
        phase = figures[operation]
        assert phase["cpu_vs_floor"] == (round(phase["cpu_ms_per_request"] / floor, 2) if floor else None)


def test_delivery_rates_are_judged_against_the_same_runs_sender_limit(tiny_run):
    limit = tiny_run["sender"]["headline"]["sender_limit_per_s"]
    headline = tiny_run["throughput"]["headline"]
    assert headline["throughput_drain_per_s_of_sender_limit"] == round(headline["throughput_drain_per_s"] / limit, 3)


def test_portal_scenario_answers_every_page_and_reads_their_plans(tiny_run):
    figures = tiny_run["portal"]["figures"]
    assert figures["endpoints"] == TINY.portal_endpoints
    assert figures["deliveries"] == sum(figures["by_status"].values()) == TINY.portal_deliveries
    assert set(figures["by_status"]) == {"succeeded", "failed", "pending"}
    assert figures["attempts"] > figures["deliveries"]  # retries, and failures after every attempt
    assert figures["all_ok"] is True
    pages = ("stats", "endpoints", "endpoint", "log", "log_filtered", "delivery")
    for page in pages:
        assert figures["pages"][page]["statuses"] == {"200": TINY.portal_requests}, page
        assert figures["pages"][page]["count"] == TINY.portal_requests
        assert 0 < figures["queries"][page] <= 10, (page, figures["queries"][page])
        assert isinstance(figures["seq_scans"][page], bool)
    assert figures["pages"]["log_filtered"]["bytes"] < figures["pages"]["log"]["bytes"]  # the filter filtered


def test_report_takes_the_latest_medians_and_judges_them(tiny_run, tmp_path):
    lines = list(tiny_run.values())
    latest = latest_medians(lines, size="tiny")
    assert set(latest) == set(config.SCENARIOS)
    table = markdown(verdicts(latest))
    assert "drain / sender limit" in table and "not run" in table  # the soak was not asked for
    if importlib.util.find_spec("matplotlib") is not None:
        from bench.report import draw

        draw(verdicts(latest), latest, tmp_path / "report.png")
        assert (tmp_path / "report.png").stat().st_size > 10_000


def test_peer_drains_as_many_deliveries_as_our_drain_and_every_one_arrives(tiny_run):
    figures = tiny_run["peer"]["figures"]
    n = TINY.throughput_bookings
    assert figures["package"] == "django-webhook==0.0.15"
    assert figures["bookings"] == figures["expected"] == figures["received"] == figures["requests"] == n
    assert figures["complete"] is True
    assert figures["duplicates"] == figures["invalid_signatures"] == figures["unknown_paths"] == 0
    assert figures["events_by_status"] == {"SUCCESS": n}  # django-webhook's own log agrees
    ours = tiny_run["throughput"]["figures"]["drain"]["deliveries_per_s"]
    assert figures["ours_drain_per_s"] == ours
    assert figures["ours_vs_peer"] == round(ours / figures["deliveries_per_s"], 2)
    assert set(figures["workers"]) == {f"peerworker{i}" for i in range(1, config.worker_replicas() + 1)}


def test_peer_workers_run_its_documented_command_with_our_pool_and_concurrency():
    ours = config.worker_command()
    command = worker_command(config.PEER_VENV, "peer-q")
    assert command[0] == str(config.PEER_VENV / "bin" / "celery")
    assert command[1:6] == ["-A", "peerproject", "worker", "-Q", "peer-q"]
    assert command[6:] == ours[ours.index("worker") + 1:] and "--concurrency" in command


def test_the_peer_is_run_with_our_drain_and_the_sender_limit():
    assert planned(parse_args(["--scenario", "peer"])) == ["sender", "throughput", "peer"]
    assert planned(parse_args(["--scenario", "throughput"])) == ["sender", "throughput"]


def _signed_as_django_webhook(secret: bytes, body: bytes, timestamp: str = "1700000000") -> dict:
    signature = hmac.new(secret, timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"Django-Webhook-Request-Timestamp": timestamp, "Django-Webhook-Signature-v1": f"0bad,{signature}",
            "Django-Webhook-UUID": "w-1"}


def test_receiver_verifies_the_peers_signature_and_names_its_deliveries():
    secret = b"peer-secret-0123"
    body = json.dumps({"object": {"id": 7}, "topic": "shop.Booking/create", "webhook_uuid": "w-1"}).encode()
    headers = _signed_as_django_webhook(secret, body)
    assert _peer(secret, body, headers) == (True, "7", "w-1/shop.Booking/create/7", 0)
    assert _peer(b"another-secret-000", body, headers)[0] is False
    assert _peer(secret, body.replace(b"7", b"8"), headers)[0] is False
    assert _peer(secret, body, {**headers, "Django-Webhook-UUID": "w-2"})[0] is False
    assert _peer(secret, b"not json", _signed_as_django_webhook(secret, b"not json"))[0] is False
