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


async def _call(session, method: str, url: str, key: str, payload: dict | None) -> tuple[int, object]:
    async with session.request(method, url, json=payload, headers={"Authorization": f"Bearer {key}"}) as answer:
        body = await answer.json(content_type=None) if answer.status < 300 else await answer.read()
        return answer.status, body


async def _phase(session, base: str, keys: list[str], rate: float, seconds: float, request,
                 cpu_seconds: Callable[[], float]) -> dict:
    """`rate` x `seconds` requests, the i-th built by `request(i)` and sent with key i mod len(keys)."""
    count = max(int(rate * seconds), 1)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    bodies: list[tuple[int, object]] = []
    cpu_before, began = cpu_seconds(), time.perf_counter()

    async def one(i: int) -> None:
        scheduled = began + i / rate
        await asyncio.sleep(max(scheduled - time.perf_counter(), 0))
        method, path, payload = request(i)
        status, body = await _call(session, method, base + path, keys[i % len(keys)], payload)
        latencies.append(time.perf_counter() - scheduled)
        statuses[str(status)] += 1
        bodies.append((i % len(keys), body))

    await asyncio.gather(*(one(i) for i in range(count)))
    elapsed, cpu = time.perf_counter() - began, cpu_seconds() - cpu_before
    errors = sum(n for status, n in statuses.items() if not status.startswith("2"))
    return {"requests": count, "target_per_s": rate, "requests_per_s": round(count / elapsed, 1),
            **measure.latency_summary_ms(latencies), "errors": errors, "statuses": dict(statuses),
            "cpu_ms_per_request": round(1000 * cpu / count, 3), "_bodies": bodies}


async def _api_load(base: str, keys: list[str], rate: float, seconds: float, cpu_seconds) -> dict:
    import aiohttp

    # gunicorn's sync workers close every connection; a pool of reused ones would only mislead.
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def phase(request, length: float = seconds) -> dict:
            return await _phase(session, base, keys, rate, length, request, cpu_seconds)

        await phase(lambda i: ("GET", API, None) if i % 2 else ("GET", FLOOR, None), WARMUP_SECONDS)
        floor = await phase(lambda i: ("GET", FLOOR, None))
        register = await phase(
            lambda i: ("POST", API, {"url": f"https://127.0.0.1/bench/{i}", "events": ["booking.created"]}))
        ids: dict[int, list[str]] = {}
        for client, body in register["_bodies"]:
            if isinstance(body, dict) and "id" in body:
                ids.setdefault(client, []).append(body["id"])
        listing = await phase(lambda i: ("GET", API, None))
        rng = random.Random(7)
        get = await phase(lambda i: ("GET", f"{API}/{rng.choice(ids.get(i % len(keys)) or ['missing'])}", None))
    results = {"floor": floor, "register": register, "list": listing, "get": get}
    for name, phase_result in results.items():
        phase_result.pop("_bodies")
        if name != "floor" and floor["cpu_ms_per_request"]:
            phase_result["cpu_vs_floor"] = round(phase_result["cpu_ms_per_request"] / floor["cpu_ms_per_request"], 2)
    return {**results, "all_succeeded": not any(p["errors"] for p in results.values())}


def run_api_load(base: str, keys: list[str], *, rate: float, seconds: float,
                 cpu_seconds: Callable[[], float]) -> dict:
    return asyncio.run(_api_load(base, keys, rate, seconds, cpu_seconds))
