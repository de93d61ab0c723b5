"""The scenarios. Each takes the Harness and returns its figures as a dict (one JSON line).

Time is wall-clock time.time() everywhere (the engine's occurred_at, the load
processes' commits, the receiver's arrivals): one machine, one clock.
"""

import base64
import os
import secrets
import time

from bench import config, measure
from bench.apiload import run_api_load

# Paced load is spread over this many load processes: with the workers sharing the two
# cores, 2 processes reached about 120 bookings/s, 3 about 165/s, and 4 no more (150 to
# 180/s, the machine saturated).
PACED_PROCESSES = 3

# Loads that should leave no backlog (the soak, the hanging endpoints' runs) are paced at
# this share of the same run's fan-out rate: what they measure is memory and latency, not
# how long a burst takes to work off.
SHARE_OF_FANOUT = 0.8


def _deliver(h, *, endpoints: int, events: int, slow: int = 0, rate: float = 0.0, processes: int = 1,
             drain: bool = False) -> dict:
    """Make a tenant, create `events` bookings (workers running, or stopped then started:
    `drain`), wait for every delivery, and account for receipts against the delivery log."""
    business, endpoint_ids = h.tenant(endpoints, slow=slow)
    expected = events * endpoints
    h.receiver.reset()
    if drain:
        h.stop_workers()
    window_start = time.time()
    h.sampler.sample()
    load = h.create_bookings(business, events, rate=rate, processes=processes)
    workers_started = None
    if drain:
        workers_started = time.time()
        h.start_workers()
        window_start = time.time()  # a drain's CPU is counted from its workers' start, not the bookings'
        h.sampler.sample()
    waited = measure.wait_for_receipts(h.receiver, expected, timeout=120 + expected / 20)
    measure.wait_until(lambda: measure.settled(endpoint_ids), timeout=60 + 2 * h.size.slow_seconds)
    h.sampler.sample()
    window_end = time.time()
    records, invalid, unknown = h.receiver.records()
    first = measure.receipts(records)
    arrivals = sorted(arrived for arrived, _path, _event in first["first"].values())
    log = measure.delivery_log(endpoint_ids)
    return {
        "load": load, "first": first["first"], "arrivals": arrivals,
        "occurred": measure.occurred_at_by_event([business.id]),
        "workers_started": workers_started, "window": (window_start, window_end),
        "facts": {
            "expected": expected, "received": len(first["first"]), "complete": waited["complete"]
            and len(first["first"]) >= expected, "duplicates": first["duplicates"],
            "invalid_signatures": invalid, "unknown_paths": unknown, "requests": len(records),
            **log,
            "every_attempt_logged": log["attempts_open"] == 0 and log["attempts_logged"] >= len(records) - invalid,
        },
    }


def _usage(h, run: dict, prefix: str = "worker") -> dict:
    """CPU per delivery in the run's window: the workers', the receiver's, and the whole
    machine's (those two, PostgreSQL, Redis, the load processes and anything else)."""
    workers = h.sampler.window(*run["window"], prefix=prefix)
    received = run["facts"]["received"]
    per_delivery = _cpu_ms_per(received, run["window"], h.sampler)
    return {
        "workers": workers,
        "worker_cpu_ms_per_delivery": per_delivery(prefix),
        "receiver_cpu_ms_per_delivery": per_delivery("receiver"),
        "machine_cpu_ms_per_delivery": per_delivery(measure.UsageSampler.MACHINE),
        "load_cpu_ms_per_event": round(1000 * run["load"]["cpu_seconds"] / max(run["load"]["count"], 1), 2),
    }


def _cpu_ms_per(count: int, window: tuple[float, float], sampler):
    """ms of CPU per item that the sampled processes whose names start with a prefix spent in `window`."""
    def per_item(prefix: str) -> float | None:
        seconds = sum(usage["cpu_s"] for usage in sampler.window(*window, prefix=prefix).values())
        return round(1000 * seconds / count, 2) if count else None

    return per_item


def _from_first_commit(run: dict) -> float | None:
    return measure.per_second(len(run["arrivals"]), run["load"]["first_commit"],
                              run["arrivals"][-1] if run["arrivals"] else None)


def _latency(run: dict) -> dict:
    return measure.latency_summary_ms(measure.latencies(run["first"], run["occurred"]))


def _commit_rate(run: dict) -> float | None:
    load = run["load"]
    return measure.per_second(load["count"], load["first_commit"], load["last_commit"])


# --- 6. the sender limit --------------------------------------------------------------------------

def sender(h) -> dict:
    """The receiver hit by a bare requests loop in the workers' shape: what this machine can send."""
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    url = h.receiver.url("sender")
    h.receiver.set_secrets({url: secret})
    h.receiver.reset()
    count = h.size.sender_requests
    window_start = time.time()
    h.sampler.sample()
    outcomes = h.send_bare(url, secret, count)
    measure.wait_for_receipts(h.receiver, count, timeout=30, stall=10)
    h.sampler.sample()
    per_request = _cpu_ms_per(count, (window_start, time.time()), h.sampler)
    records, invalid, _unknown = h.receiver.records()
    arrivals = [record[0] for record in records if record[5]]
    began, ended = min(o["began"] for o in outcomes), max(o["ended"] for o in outcomes)
    return {
        "requests": count, "received": len(arrivals), "errors": sum(o["errors"] for o in outcomes),
        "invalid_signatures": invalid,
        "deliveries_per_s": measure.per_second(len(arrivals), arrivals[0] if arrivals else None,
                                               arrivals[-1] if arrivals else None),
        "client_per_s": measure.per_second(sum(o["sent"] for o in outcomes), began, ended),
        "sender_cpu_ms_per_request": round(1000 * sum(o["cpu_seconds"] for o in outcomes) / max(count, 1), 3),
        "receiver_cpu_ms_per_request": per_request("receiver"),
        "machine_cpu_ms_per_request": per_request(measure.UsageSampler.MACHINE),
        "shape": {"processes": len(outcomes), "threads": config.SENDER_THREADS},
    }


# --- 1. throughput -----------------------------------------------------------------------------------

def throughput(h) -> dict:
    """N bookings, 1 endpoint each: burst (workers running) and drain (workers started after)."""
    n = h.size.throughput_bookings
    burst = _deliver(h, endpoints=1, events=n)
    drain = _deliver(h, endpoints=1, events=n, drain=True)
    burst_rate, creation_rate = _from_first_commit(burst), _commit_rate(burst)
    arrivals = drain["arrivals"]
    return {
        "bookings": n,
        "burst": {
            "deliveries_per_s": burst_rate, "bookings_created_per_s": creation_rate,
            "burst_vs_creation": round(burst_rate / creation_rate, 3) if burst_rate and creation_rate else None,
            "latency": _latency(burst), **burst["facts"], **_usage(h, burst),
        },
        "drain": {
            "deliveries_per_s": measure.per_second(len(arrivals), arrivals[0] if arrivals else None,
                                                   arrivals[-1] if arrivals else None),
            "bookings_created_per_s": _commit_rate(drain),
            "workers_start_to_first_receipt_s": round(arrivals[0] - drain["workers_started"], 2) if arrivals else None,
            **drain["facts"], **_usage(h, drain),
        },
    }


# --- 2. fan-out ----------------------------------------------------------------------------------------

def fanout(h) -> dict:
    size = h.size
    run = _deliver(h, endpoints=size.fanout_endpoints, events=size.fanout_events)
    return {"events": size.fanout_events, "endpoints": size.fanout_endpoints,
            "deliveries_per_s": _from_first_commit(run), "bookings_created_per_s": _commit_rate(run),
            "latency": _latency(run), **run["facts"], **_usage(h, run)}


# --- 3. paced latency -------------------------------------------------------------------------------

def paced(h) -> dict:
    size = h.size
    events = int(size.paced_rate * size.paced_seconds)
    processes = PACED_PROCESSES if size.name == "full" else 1
    run = _deliver(h, endpoints=1, events=events, rate=size.paced_rate, processes=processes)
    return {"target_events_per_s": size.paced_rate, "seconds": size.paced_seconds, "events": events,
            "achieved_events_per_s": _commit_rate(run), "load_processes": processes,
            "load_worst_lag_s": run["load"]["worst_lag_s"], "latency": _latency(run),
            **run["facts"], **_usage(h, run)}


# --- 4. isolation ------------------------------------------------------------------------------------

def isolation(h, fanout_per_s: float | None) -> dict:
    """10 endpoints per event, the last answering after slow_seconds: the 9 healthy ones' rate,
    as a ratio of fan-out (the issue's measure) and of the same load with no slow endpoint
    (a control run: both are bounded by how fast bookings are made, fan-out's differently)."""
    size = h.size
    slow_name = f"e{size.isolation_endpoints - 1}"  # the endpoint that answers slowly in the real run
    control = _deliver(h, endpoints=size.isolation_endpoints, events=size.isolation_events)
    control_rate = _rate_of(control, lambda path: not path.endswith(slow_name))
    h.receiver.configure(slow_seconds=size.slow_seconds)
    run = _deliver(h, endpoints=size.isolation_endpoints, events=size.isolation_events, slow=1)
    healthy = sorted(arrived for arrived, path, _e in run["first"].values() if path.startswith("/hook/"))
    slow = [arrived for arrived, path, _e in run["first"].values() if path.startswith("/slow/")]
    healthy_rate = _rate_of(run, lambda path: path.startswith("/hook/"))
    healthy_first = {d: v for d, v in run["first"].items() if v[1].startswith("/hook/")}
    return {
        "events": size.isolation_events, "endpoints_per_event": size.isolation_endpoints,
        "slow_seconds": size.slow_seconds, "healthy_expected": size.isolation_events * (size.isolation_endpoints - 1),
        "healthy_received": len(healthy), "slow_received": len(slow),
        "healthy_deliveries_per_s": healthy_rate, "fanout_deliveries_per_s": fanout_per_s,
        "ratio_to_fanout": round(healthy_rate / fanout_per_s, 3) if healthy_rate and fanout_per_s else None,
        "control_deliveries_per_s": control_rate,
        "ratio_to_control": round(healthy_rate / control_rate, 3) if healthy_rate and control_rate else None,
        "healthy_latency": measure.latency_summary_ms(measure.latencies(healthy_first, run["occurred"])),
        **run["facts"], **_usage(h, run),
        "hanging": _beside_hanging_endpoints(h, fanout_per_s),
    }


def _beside_hanging_endpoints(h, fanout_per_s: float | None) -> dict:
    """hanging_count of hanging_endpoints endpoints per event answer only after hanging_seconds
    (past the deadline at full size): the others' rate against the same load with none
    hanging, run just before, and their commit-to-receipt latency. Both loads are paced at
    SHARE_OF_FANOUT of the fan-out rate, so that the latency is the engine's, not the time
    a burst of every event at once takes to work off."""
    size = h.size
    healthy_endpoints = size.hanging_endpoints - size.hanging_count
    rate = SHARE_OF_FANOUT * fanout_per_s / size.hanging_endpoints if fanout_per_s else 0.0

    def healthy(path: str) -> bool:  # /hook/t<tenant>e<number>: the first ones answer in both runs
        return path.startswith("/hook/") and int(path.rsplit("e", 1)[1]) < healthy_endpoints

    control = _deliver(h, endpoints=size.hanging_endpoints, events=size.hanging_events, rate=rate)
    control_rate = _rate_of(control, healthy)
    h.receiver.configure(slow_seconds=size.hanging_seconds)
    business, endpoint_ids = h.tenant(size.hanging_endpoints, slow=size.hanging_count)
    h.receiver.reset()
    load = h.create_bookings(business, size.hanging_events, rate=rate)
    expected = size.hanging_events * healthy_endpoints
    measure.wait_until(lambda: _received(h, healthy) >= expected, timeout=120 + expected / 20)
    first = {d: v for d, v in measure.receipts(h.receiver.records()[0])["first"].items() if healthy(v[1])}
    _disable(endpoint_ids[healthy_endpoints:])  # their backlog would slow the next scenarios
    arrivals = sorted(arrived for arrived, _path, _event in first.values())
    healthy_rate = measure.per_second(len(arrivals), load["first_commit"], arrivals[-1] if arrivals else None)
    control_first = {d: v for d, v in control["first"].items() if healthy(v[1])}
    return {
        "endpoints": size.hanging_endpoints, "hanging": size.hanging_count, "events": size.hanging_events,
        "hanging_seconds": size.hanging_seconds, "paced_events_per_s": round(rate, 2) or None,
        "healthy_expected": expected, "healthy_received": len(first),
        "healthy_deliveries_per_s": healthy_rate, "control_deliveries_per_s": control_rate,
        "ratio_to_control": round(healthy_rate / control_rate, 3) if healthy_rate and control_rate else None,
        "control_latency": measure.latency_summary_ms(measure.latencies(control_first, control["occurred"])),
        "healthy_latency": measure.latency_summary_ms(
            measure.latencies(first, measure.occurred_at_by_event([business.id]))
        ),
    }


def _received(h, counts) -> int:
    return len({delivery for _at, path, _e, delivery, _n, valid in h.receiver.records()[0] if valid and counts(path)})


def _disable(endpoint_ids: list) -> None:
    from webhooks.models import WebhookEndpoint
    from webhooks.services import webhook_endpoint_disable

    for endpoint in WebhookEndpoint.objects.filter(pk__in=endpoint_ids):
        webhook_endpoint_disable(endpoint=endpoint, reason=WebhookEndpoint.DisabledReason.MANUAL)


def _rate_of(run: dict, counts) -> float | None:
    """Deliveries/s to the endpoints whose path `counts`, first commit to the last such receipt."""
    arrivals = sorted(arrived for arrived, path, _e in run["first"].values() if counts(path))
    return measure.per_second(len(arrivals), run["load"]["first_commit"], arrivals[-1] if arrivals else None)


# --- 5. API ------------------------------------------------------------------------------------------------

def api(h) -> dict:
    """Open-loop load at api_rate requests/s: the bare floor view, then register, list and get."""
    from bench.harness import business_key

    size = h.size
    keys = [business_key(h.tenant(0)[0]) for _ in range(size.api_businesses)]
    web, base = h.start_web(DJANGO_SETTINGS_MODULE="bench.floor_settings")

    def web_cpu_seconds() -> float:  # gunicorn and its workers
        usage = measure.process_usage(web.pid)
        if usage is None:
            raise RuntimeError("the web server's CPU time cannot be read from /proc")
        return usage[1]

    try:
        results = run_api_load(base, keys, rate=size.api_rate, seconds=size.api_seconds, cpu_seconds=web_cpu_seconds)
    finally:
        web.stop()
    return {"businesses": size.api_businesses, "server": "gunicorn (docker-compose web command)",
            "gunicorn_workers": _gunicorn_workers(), **results}


def _gunicorn_workers() -> int | None:
    command = config.web_command(0)
    return int(command[command.index("--workers") + 1]) if "--workers" in command else None


# --- 7. The portal and the stats call, on a busy business ---------------------------------------

def portal(h) -> dict:
    """portal_endpoints endpoints and portal_deliveries deliveries of one business (fixture rows), then
    the stats call and the portal's read pages timed against gunicorn, and their queries' plans."""
    from bench.harness import business_key
    from bench.portaldata import make_delivery_log
    from bench.portalload import page_paths, portal_client, queries_and_plans, time_pages

    size = h.size
    business, endpoint_ids = h.tenant(size.portal_endpoints)
    began = time.time()
    fixture = make_delivery_log(endpoint_ids, size.portal_deliveries)
    fixture_seconds = round(time.time() - began, 1)
    key = business_key(business)
    paths = page_paths(fixture)
    web, base = h.start_web()
    try:
        pages = time_pages(portal_client(base, key), base, paths, key, size.portal_requests)
    finally:
        web.stop()
    plans = queries_and_plans(business, paths, key)
    return {"endpoints": len(endpoint_ids), "deliveries": fixture.deliveries, "events": fixture.events,
            "attempts": fixture.attempts, "by_status": fixture.by_status, "fixture_seconds": fixture_seconds,
            "requests_per_page": size.portal_requests, "client": "one, closed loop; wall time on loopback",
            "server": "gunicorn (docker-compose web command)", "pages": pages,
            "all_ok": all(p["statuses"] == {"200": size.portal_requests} for p in pages.values()),
            "queries": {name: plan["queries"] for name, plan in plans.items()},
            "seq_scans": {name: plan["seq_scans"] for name, plan in plans.items()},
            "seq_scanned": {name: plan["seq_scanned"] for name, plan in plans.items() if plan["seq_scanned"]}}


# --- 8. The peer: django-webhook 0.0.15 draining as many deliveries ----------------------------

def peer(h, ours_drain_per_s: float | None) -> dict:
    """throughput_bookings bookings of the peer's model, one webhook at the receiver, made with its
    workers stopped, then its workers started (our drain, on django-webhook). Our workers are
    stopped meanwhile so that both drains have the machine alone."""
    n, side = h.size.throughput_bookings, h.peer
    side.prepare(h.env.get("CELERY_BROKER_URL", ""))
    side.fresh()
    secret = secrets.token_urlsafe(32)
    url = h.receiver.url("p1", kind="peer")
    h.receiver.set_secrets({url: secret})
    side.manage("peer_webhook", "--url", url, "--secret", secret)
    h.stop_workers()
    try:
        run = _peer_drain(h, n)
    finally:
        side.stop_workers(h.sampler)
        h.start_workers()
    arrivals, rate = run["arrivals"], run["deliveries_per_s"]
    return {
        "bookings": n, "package": "django-webhook==0.0.15", "worker_command": worker_command_of_peer(h),
        "deliveries_per_s": rate,
        "from_workers_started_per_s": measure.per_second(len(arrivals), run["workers_started"],
                                                         arrivals[-1] if arrivals else None),
        "workers_start_to_first_receipt_s": round(arrivals[0] - run["workers_started"], 2) if arrivals else None,
        "bookings_created_per_s": _commit_rate(run),
        "ours_drain_per_s": ours_drain_per_s,
        "ours_vs_peer": round(ours_drain_per_s / rate, 2) if ours_drain_per_s and rate else None,
        **run["facts"], **_usage(h, run, prefix="peerworker"),
    }


def _peer_drain(h, n: int) -> dict:
    """The drain itself, timed as our drain is: deliveries/s from the first receipt to the last."""
    h.receiver.reset()
    load = h.peer.manage("peer_bookings", "--count", str(n))
    workers_started = time.time()
    h.peer.start_workers(h.sampler)
    window_start = time.time()  # its CPU counted from its workers' start, as our drain's
    h.sampler.sample()
    waited = measure.wait_for_receipts(h.receiver, n, timeout=120 + n / 20)
    logged = {}

    def settled() -> bool:  # its WebhookEvent rows turn SUCCESS just after each answer
        logged.update(h.peer.manage("peer_events"))
        by_status = logged["events_by_status"]
        return by_status.get("PENDING", 0) == 0 and sum(by_status.values()) >= n

    measure.wait_until(settled, timeout=60, interval=0.5)
    h.sampler.sample()
    records, invalid, unknown = h.receiver.records()
    first = measure.receipts(records)
    arrivals = sorted(arrived for arrived, _path, _event in first["first"].values())
    return {
        "load": load, "arrivals": arrivals, "workers_started": workers_started,
        "window": (window_start, time.time()),
        "deliveries_per_s": measure.per_second(len(arrivals), arrivals[0] if arrivals else None,
                                               arrivals[-1] if arrivals else None),
        "facts": {
            "expected": n, "received": len(first["first"]),
            "complete": waited["complete"] and len(first["first"]) >= n, "duplicates": first["duplicates"],
            "invalid_signatures": invalid, "unknown_paths": unknown, "requests": len(records),
            "events_by_status": logged.get("events_by_status", {}),
        },
    }


def worker_command_of_peer(h) -> list[str]:
    from bench.peerside import worker_command

    return worker_command(h.peer.venv, h.peer.queue)[1:]


# --- Soak (--soak): worker memory over a long run ---------------------------------------------

def soak(h, fanout_per_s: float | None) -> dict:
    """soak_events x fanout_endpoints deliveries (100,000 at full size), paced at 80 % of the fan-out
    rate of the same run so that no backlog builds up: the workers' RSS from warm (10 % done) to the end."""
    size = h.size
    rate = SHARE_OF_FANOUT * fanout_per_s / size.fanout_endpoints if fanout_per_s else 0.0
    run = _deliver(h, endpoints=size.fanout_endpoints, events=size.soak_events, rate=rate)
    arrivals = run["arrivals"]
    warm_at = arrivals[len(arrivals) // 10] if arrivals else run["window"][0]
    growth = {}
    for name, rows in _rss_series(h, run["window"]).items():
        warm = next((rss for moment, rss in rows if moment >= warm_at), rows[0][1])
        growth[name] = {"rss_warm_mib": round(warm / 2**20, 1), "rss_end_mib": round(rows[-1][1] / 2**20, 1),
                        "rss_max_mib": round(max(rss for _m, rss in rows) / 2**20, 1),
                        "growth": round(rows[-1][1] / warm - 1, 3)}
    return {"events": size.soak_events, "endpoints": size.fanout_endpoints,
            "paced_events_per_s": round(rate, 2) or None, "deliveries_per_s": _from_first_commit(run),
            "rss": growth, "rss_growth_max": max((g["growth"] for g in growth.values()), default=None),
            **run["facts"], **_usage(h, run)}


def _rss_series(h, window) -> dict[str, list[tuple[float, int]]]:
    series: dict[str, list] = {}
    for moment, name, rss, _cpu in h.sampler.samples:
        if window[0] <= moment <= window[1] and name.startswith("worker"):
            series.setdefault(name, []).append((moment, rss))
    return series


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]
