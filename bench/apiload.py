"""The API scenario's load: open loop, at a fixed rate, against the API and its floor.

Each phase sends `rate` requests a second for `seconds`, each at its scheduled moment
whether or not earlier ones were answered (open loop: a slow server meets a queue, as it
would in production, instead of a client that politely waits). A request's latency runs
from its scheduled moment to its answer, so time spent queued counts. Requests take the
businesses' API keys in turn.

Phases, one after the other: the floor (a bare DRF view, bench/floor.py), register
(POST /api/v1/webhooks), list (GET /api/v1/webhooks), get (GET /api/v1/webhooks/{id}).
Each: p50/p99/max latency, the rate achieved, non-2xx answers, and the web server's CPU
time per request (gunicorn and its workers, read from /proc before and after the phase).
"""

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable

from bench import measure

API = "/api/v1/webhooks"
FLOOR = "/bench/floor"
WARMUP_SECONDS = 2.0


async def _call(session, method: str, url: str, key: str, payload: dict | None,
                keep_body: bool) -> tuple[str, object]:
    """The answer's status and, if `keep_body`, its JSON; a failure of the connection is status "error"."""
    import aiohttp  # the bench's own requirement (requirements-bench.txt), not the service's

    try:
        async with session.request(method, url, json=payload, headers={"Authorization": f"Bearer {key}"}) as answer:
            body = await answer.json(content_type=None) if keep_body and answer.status < 300 else await answer.read()
            return str(answer.status), body
    except (TimeoutError, aiohttp.ClientError) as exc:
        return "error", repr(exc)


async def _phase(session, base: str, keys: list[str], rate: float, seconds: float, request,
                 cpu_seconds: Callable[[], float], keep_bodies: bool = False) -> dict:
    """`rate` x `seconds` requests; the i-th is `request(i, k)`, sent with keys[k], k = i mod len(keys)."""
    count = max(round(rate * seconds), 1)
    latencies: list[float] = []
    send_lags: list[float] = []  # the load generator's own lateness: it would count against the server
    statuses: Counter[str] = Counter()
    bodies: list[tuple[int, object]] = []
    cpu_before, began = cpu_seconds(), time.perf_counter()

    async def one(i: int, scheduled: float) -> None:
        send_lags.append(time.perf_counter() - scheduled)
        key_index = i % len(keys)
        method, path, payload = request(i, key_index)
        status, body = await _call(session, method, base + path, keys[key_index], payload, keep_bodies)
        latencies.append(time.perf_counter() - scheduled)
        statuses[status] += 1
        if keep_bodies:
            bodies.append((key_index, body))

    # Each request is started at its moment: a task per request made up front would cost the
    # first requests a scheduling burst, which the server's latency would be charged with.
    in_flight = []
    for i in range(count):
        scheduled = began + i / rate
        await asyncio.sleep(max(scheduled - time.perf_counter(), 0))
        in_flight.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*in_flight)
    elapsed, cpu = time.perf_counter() - began, cpu_seconds() - cpu_before
    errors = sum(n for status, n in statuses.items() if not status.startswith("2"))
    return {"requests": count, "target_per_s": rate, "requests_per_s": round(count / elapsed, 1),
            **measure.latency_summary_ms(latencies), "send_lag_max_ms": round(1000 * max(send_lags), 1),
            "errors": errors, "statuses": dict(statuses), "cpu_ms_per_request": round(1000 * cpu / count, 3),
            "_bodies": bodies}


async def _api_load(base: str, keys: list[str], rate: float, seconds: float, cpu_seconds) -> dict:
    import aiohttp

    # gunicorn's sync workers close every connection; a pool of reused ones would only mislead.
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def phase(request, length: float = seconds, keep_bodies: bool = False) -> dict:
            return await _phase(session, base, keys, rate, length, request, cpu_seconds, keep_bodies)

        await phase(lambda i, k: ("GET", API, None) if i % 2 else ("GET", FLOOR, None), WARMUP_SECONDS)
        floor = await phase(lambda i, k: ("GET", FLOOR, None))
        register = await phase(
            lambda i, k: ("POST", API, {"url": f"https://127.0.0.1/bench/{i}", "events": ["booking.created"]}),
            keep_bodies=True)
        ids: dict[int, list[str]] = {}
        for key_index, body in register["_bodies"]:
            if isinstance(body, dict) and "id" in body:
                ids.setdefault(key_index, []).append(body["id"])
        listing = await phase(lambda i, k: ("GET", API, None))
        rng = random.Random(7)
        get = await phase(lambda i, k: ("GET", f"{API}/{rng.choice(ids.get(k) or ['missing'])}", None))
    results = {"floor": floor, "register": register, "list": listing, "get": get}
    floor_cpu = floor["cpu_ms_per_request"]
    for name, phase_result in results.items():
        phase_result.pop("_bodies")
        if name != "floor":  # None where the floor's CPU is too small to read (/proc counts 10 ms ticks)
            cpu = phase_result["cpu_ms_per_request"]
            phase_result["cpu_vs_floor"] = round(cpu / floor_cpu, 2) if floor_cpu else None
    return {**results, "all_succeeded": not any(p["errors"] for p in results.values())}


def run_api_load(base: str, keys: list[str], *, rate: float, seconds: float,
                 cpu_seconds: Callable[[], float]) -> dict:
    return asyncio.run(_api_load(base, keys, rate, seconds, cpu_seconds))
