"""python -m bench: run the benchmark scenarios, one JSON line each.

    python -m bench [--scenario NAME|all] [--size full|tiny] [--runs N] [--soak] [--output PATH]

Every line goes to stdout and is appended to --output (bench/results.jsonl by default)
with the git commit, the time and the size. Progress goes to stderr. Everything the
run starts is stopped at the end, also on failure or Ctrl-C.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench import config, scenarios
from bench.harness import Harness
from bench.infra import raise_on_sigterm, services_problem, stop_everything

# Which figures of each scenario are compared with the targets (and drawn in the report).
HEADLINES = {
    "sender": lambda r: {"sender_limit_per_s": r["deliveries_per_s"]},
    "throughput": lambda r: {
        "throughput_drain_per_s": r["drain"]["deliveries_per_s"],
        "throughput_burst_per_s": r["burst"]["deliveries_per_s"],
        "bookings_created_per_s": r["burst"]["bookings_created_per_s"],
        "burst_vs_creation": r["burst"]["burst_vs_creation"],
        "burst_p50_ms": r["burst"]["latency"]["p50_ms"], "burst_p99_ms": r["burst"]["latency"]["p99_ms"]},
    "fanout": lambda r: {"fanout_per_s": r["deliveries_per_s"]},
    "paced": lambda r: {"paced_p50_ms": r["latency"]["p50_ms"], "paced_p99_ms": r["latency"]["p99_ms"],
                        "paced_max_ms": r["latency"]["max_ms"], "paced_achieved_per_s": r["achieved_events_per_s"]},
    "isolation": lambda r: {"isolation_ratio": r["ratio_to_fanout"],
                            "isolation_ratio_to_control": r["ratio_to_control"],
                            "isolation_healthy_per_s": r["healthy_deliveries_per_s"],
                            "isolation_healthy_p99_ms": r["healthy_latency"]["p99_ms"],
                            "isolation_hanging_ratio": r["hanging"]["ratio_to_control"],
                            "isolation_hanging_p99_ms": r["hanging"]["healthy_latency"]["p99_ms"]},
    "api": lambda r: {"api_floor_cpu_ms": r["floor"]["cpu_ms_per_request"],
                      **{f"api_{op}_{k}": r[op].get(key) for op in ("register", "list", "get")
                         for k, key in (("p50_ms", "p50_ms"), ("p99_ms", "p99_ms"), ("cpu_ms", "cpu_ms_per_request"),
                                        ("cpu_vs_floor", "cpu_vs_floor"))}},
    "portal": lambda r: {f"portal_{page}_{k}_ms": r["pages"][page][f"{k}_ms"]
                         for page in ("stats", "endpoints", "endpoint", "log", "log_filtered", "delivery")
                         for k in ("p50", "p99")},
    "soak": lambda r: {"soak_rss_growth": r["rss_growth_max"], "soak_per_s": r["deliveries_per_s"]},
    "peer": lambda r: {"peer_drain_per_s": r["deliveries_per_s"], "ours_vs_peer": r["ours_vs_peer"]},
}
# Delivery rates, also given as a fraction of the sender limit measured in the same run
# (in the headline as <rate> + config.SENDER_LIMIT_SUFFIX: what the targets judge).
RATES = ("throughput_drain_per_s", "throughput_burst_per_s", "fanout_per_s", "isolation_healthy_per_s", "soak_per_s",
         "peer_drain_per_s")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="all", choices=["all", *config.SCENARIOS, "soak"])
    parser.add_argument("--size", default="full", choices=sorted(config.SIZES))
    parser.add_argument("--runs", type=int, default=1, help="repeat every scenario N times (docs/benchmarks.md uses 3)")
    parser.add_argument("--soak", action="store_true", help="also the 100,000-delivery memory run (long)")
    parser.add_argument("--output", type=Path, default=config.RESULTS_PATH, help="JSON lines are appended here")
    parser.add_argument("--work-dir", type=Path, default=config.WORK_DIR, help="logs, beat schedule, embedded files")
    parser.add_argument("--db-suffix", default="_bench", help="the bench database is DATABASE_URL's name + this")
    parser.add_argument("--receiver-processes", type=int, default=1)
    parser.add_argument("--keep-database", action="store_true", help="leave the bench database for inspection")
    parser.add_argument("--peer-venv", type=Path, default=config.PEER_VENV,
                        help="django-webhook's virtualenv for the peer scenario (made if missing)")
    return parser.parse_args(argv)


def planned(args) -> list[str]:
    names = list(config.SCENARIOS) if args.scenario == "all" else [args.scenario]
    if args.soak and "soak" not in names:
        names.append("soak")
    if "peer" in names and "throughput" not in names:  # ours against it, in the same run
        names.insert(names.index("peer"), "throughput")
    if any(n in config.DELIVERY_SCENARIOS for n in names) and "sender" not in names:
        names.insert(0, "sender")  # every delivery rate is also read against the sender limit
    for needs_fanout in ("isolation", "soak"):  # a ratio of fan-out; paced by it
        if needs_fanout in names and "fanout" not in names:
            names.insert(names.index(needs_fanout), "fanout")
    return names


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=config.PROJECT_DIR, capture_output=True, text=True,
                              timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_gib": round(memory, 1),
            "python": platform.python_version(), "platform": platform.platform(terse=True)}


def metadata(args, harness: Harness, run_id: str) -> dict:
    broker = os.environ.get("CELERY_BROKER_URL", "") or "filesystem://"
    return {
        "run_id": run_id, "size": args.size, "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "machine": machine(), "database": "postgresql" if harness.database.is_postgres else "sqlite",
        "broker": broker.split("://", 1)[0], "worker_command": config.worker_command()[1:],
        "worker_replicas": config.worker_replicas(),
    }


def run_scenario(harness: Harness, name: str, done: dict) -> dict:
    if name in ("isolation", "soak"):
        return getattr(scenarios, name)(harness, done.get("fanout", {}).get("deliveries_per_s"))
    if name == "peer":
        return scenarios.peer(harness, done.get("throughput", {}).get("drain", {}).get("deliveries_per_s"))
    return getattr(scenarios, name)(harness)


def emit(line: dict, output: Path) -> None:
    text = json.dumps(line, separators=(",", ":"))
    print(text, flush=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "a") as results:
        results.write(text + "\n")


def one_run(harness: Harness, names: list[str], meta: dict, run: int, runs: int, output: Path,
            asked: str) -> bool:
    harness.fresh_run()
    done: dict[str, dict] = {}
    ok = True
    for name in names:
        print(f"bench: run {run}/{runs}: {name} ...", file=sys.stderr, flush=True)
        began, load_before = time.time(), scenarios.load_average()
        line = {"scenario": name, "run": run, "runs": runs,
                "timestamp": datetime.now(UTC).isoformat(timespec="seconds"), **meta,
                "auxiliary": asked not in ("all", name)}  # run only because the asked-for scenario needs it
        try:
            figures = run_scenario(harness, name, done)
            done[name] = figures
            headline = HEADLINES[name](figures)
            limit = done.get("sender", {}).get("deliveries_per_s")
            fractions = {k + config.SENDER_LIMIT_SUFFIX: round(v / limit, 3) for k, v in headline.items()
                         if k in RATES and v and limit}
            line.update(headline={**headline, **fractions}, figures=figures)
        except Exception as exc:  # noqa: BLE001 - record it, and go on with the next scenario
            ok = False
            traceback.print_exc()
            line.update(error=f"{type(exc).__name__}: {exc}")
            harness.start_workers()
        line.update(seconds=round(time.time() - began, 1), load_average_before=load_before,
                    load_average_after=scenarios.load_average())
        emit(line, output)
    return ok


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.size == "full" and (problem := services_problem()):
        print(f"bench: refusing to run: {problem}", file=sys.stderr)
        return 2
    raise_on_sigterm()
    harness = Harness(config.SIZES[args.size], args.work_dir.resolve(), args.db_suffix, args.receiver_processes,
                      args.peer_venv.resolve())
    names, run_id, ok = planned(args), uuid.uuid4().hex[:12], True
    print(f"bench: scenarios {', '.join(names)} x {args.runs} at size {args.size}; logs in {harness.log_dir}",
          file=sys.stderr, flush=True)
    try:
        harness.start()
        meta = metadata(args, harness, run_id)
        for run in range(1, args.runs + 1):
            ok = one_run(harness, names, meta, run, args.runs, args.output, args.scenario) and ok
    except KeyboardInterrupt:
        print("bench: interrupted; stopping everything it started", file=sys.stderr)
        return 130
    finally:
        try:
            harness.close(keep_database=args.keep_database)
        finally:
            stop_everything()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
