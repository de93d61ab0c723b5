"""What the benchmark runs: sizes, targets, paths, and the production commands.

The worker, beat and web commands are read from docker-compose.yml, so the benchmark
runs exactly what production runs and the two can never diverge.
"""

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = PROJECT_DIR / "bench"
RESULTS_PATH = BENCH_DIR / "results.jsonl"
REPORT_PATH = BENCH_DIR / "report.png"
COMPOSE_PATH = PROJECT_DIR / "docker-compose.yml"
# Logs, the beat schedule, the embedded broker and SQLite file of the latest run (var/ is ignored by git).
WORK_DIR = PROJECT_DIR / "var" / "bench"
# django-webhook's virtualenv for the peer scenario: kept across runs and --work-dirs (made again
# when bench/peer/requirements.txt changes).
PEER_VENV = WORK_DIR / "peer-venv"

SCENARIOS = ("sender", "throughput", "fanout", "paced", "isolation", "api", "portal", "peer")
DELIVERY_SCENARIOS = ("throughput", "fanout", "paced", "isolation", "soak")


@dataclass(frozen=True)
class Size:
    name: str
    throughput_bookings: int
    fanout_events: int
    fanout_endpoints: int
    paced_rate: float  # events per second
    paced_seconds: float
    isolation_events: int
    isolation_endpoints: int  # one of them is the slow one
    slow_seconds: float  # how long the slow endpoint takes to answer
    hanging_events: int  # isolation's second part: events to hanging_endpoints endpoints each,
    hanging_endpoints: int
    hanging_count: int  # of which this many answer only after hanging_seconds
    hanging_seconds: float  # past the attempt deadline (WEBHOOK_TIMEOUT_SECONDS, 10 s) at full size
    api_businesses: int  # whose API keys the requests take in turn
    api_rate: float  # requests per second, open loop, in every phase of the api scenario
    api_seconds: float  # per phase
    sender_requests: int
    soak_events: int  # x fanout_endpoints deliveries (--soak)
    portal_endpoints: int  # of one business, the first of them the busy one
    portal_deliveries: int  # fixture rows, with their events and attempts
    portal_requests: int  # per page, after one warm-up request


SIZES = {
    "full": Size(
        name="full", throughput_bookings=5000, fanout_events=100, fanout_endpoints=100,
        paced_rate=100, paced_seconds=30, isolation_events=200, isolation_endpoints=10,
        slow_seconds=5, hanging_events=30, hanging_endpoints=100, hanging_count=10, hanging_seconds=30,
        api_businesses=20, api_rate=100, api_seconds=20, sender_requests=10000,
        soak_events=1000, portal_endpoints=200, portal_deliveries=100_000, portal_requests=50,
    ),
    # A handful of deliveries per scenario: keeps the code working (make test), measures nothing.
    "tiny": Size(
        name="tiny", throughput_bookings=12, fanout_events=3, fanout_endpoints=4,
        paced_rate=10, paced_seconds=1, isolation_events=2, isolation_endpoints=10,
        slow_seconds=1, hanging_events=2, hanging_endpoints=10, hanging_count=2, hanging_seconds=2,
        api_businesses=3, api_rate=20, api_seconds=0.5, sender_requests=40,
        soak_events=3, portal_endpoints=5, portal_deliveries=300, portal_requests=3,
    ),
}

# The targets, each judged within one run, so that machines twice as fast or slow as each
# other can be compared: rates as a fraction of the same run's sender limit, the API's CPU
# against a bare DRF view served beside it, memory against itself. Latencies are budgets at
# loads meant to be within reach of such machines (paced_rate events/s, api_rate requests/s;
# the run records the rate the load actually reached). `direction` says which side passes.
# A delivery rate <name> is also in each headline as <name> + SENDER_LIMIT_SUFFIX: its share of
# the same run's sender limit.
SENDER_LIMIT_SUFFIX = "_of_sender_limit"
TARGETS = {
    "throughput_drain_per_s_of_sender_limit": {"target": 0.90, "direction": ">=",
                                               "label": "drain / sender limit"},
    "fanout_per_s_of_sender_limit": {"target": 0.80, "direction": ">=", "label": "fan-out / sender limit"},
    "ours_vs_peer": {"target": 10, "direction": ">=", "label": "drain: ours / django-webhook 0.0.15"},
    "burst_vs_creation": {"target": 0.95, "direction": ">=", "label": "burst / booking creation rate"},
    "isolation_hanging_ratio": {"target": 0.90, "direction": ">=",
                                "label": "10 of 100 hanging: healthy / none hanging"},
    "isolation_hanging_p99_ms": {"target": 1000, "direction": "<=", "label": "10 of 100 hanging: healthy p99 (ms)"},
    "paced_p99_ms": {"target": 100, "direction": "<=", "label": "paced p99, commit to receipt (ms)"},
    "api_register_cpu_vs_floor": {"target": 1.5, "direction": "<=", "label": "API register CPU / bare view"},
    "api_list_cpu_vs_floor": {"target": 1.5, "direction": "<=", "label": "API list CPU / bare view"},
    "api_get_cpu_vs_floor": {"target": 1.5, "direction": "<=", "label": "API get CPU / bare view"},
    "api_register_p99_ms": {"target": 50, "direction": "<=", "label": "API register p99, open loop (ms)"},
    "api_list_p99_ms": {"target": 50, "direction": "<=", "label": "API list p99, open loop (ms)"},
    "api_get_p99_ms": {"target": 50, "direction": "<=", "label": "API get p99, open loop (ms)"},
    "portal_stats_p99_ms": {"target": 250, "direction": "<=", "label": "stats API p99, busy business (ms)"},
    "portal_endpoints_p99_ms": {"target": 250, "direction": "<=", "label": "portal endpoints list p99 (ms)"},
    "portal_log_p99_ms": {"target": 250, "direction": "<=", "label": "portal delivery log p99 (ms)"},
    "portal_delivery_p99_ms": {"target": 250, "direction": "<=", "label": "portal one delivery p99 (ms)"},
    "soak_rss_growth": {"target": 0.10, "direction": "<=", "label": "worker RSS growth (soak)"},
}


def _compose_service(name: str) -> dict:
    services = yaml.safe_load(COMPOSE_PATH.read_text())["services"]
    if name not in services:
        raise SystemExit(f"docker-compose.yml has no {name!r} service")
    return services[name]


def _localize(command: list[str]) -> list[str]:
    """The compose command with its program taken from this interpreter's environment."""
    program, *rest = command
    local = Path(sys.executable).parent / program
    if local.exists():
        return [str(local), *rest]
    if program in {"celery", "gunicorn"}:
        return [sys.executable, "-m", program, *rest]
    found = shutil.which(program)
    if found is None:
        raise SystemExit(f"{program} (from docker-compose.yml) is not installed")
    return [found, *rest]


def worker_command() -> list[str]:
    """docker-compose.yml's worker command, as it is (only the program's path made local)."""
    return _localize(list(_compose_service("worker")["command"]))


def worker_replicas() -> int:
    return int(_compose_service("worker").get("deploy", {}).get("replicas", 1))


# Threads per process of the bare sender loop (one process per worker replica). The engine
# sends from a pool of WEBHOOK_SEND_THREADS; 16 keeps the figure comparable across runs.
SENDER_THREADS = 16


def beat_command() -> list[str]:
    return _localize(list(_compose_service("beat")["command"]))


def web_command(port: int) -> list[str]:
    """docker-compose.yml's web command, bound to loopback on `port` instead of 0.0.0.0:8000."""
    command = list(_compose_service("web")["command"])
    for flag in ("--bind", "-b"):
        if flag in command:
            command[command.index(flag) + 1] = f"127.0.0.1:{port}"
            break
    else:
        command += ["--bind", f"127.0.0.1:{port}"]
    return _localize(command)
