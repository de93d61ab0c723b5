"""The API scenario's clients: N concurrent clients (aiohttp), one business key each.

Three phases, one after the other, each with every client busy at once: register
(POST /api/v1/webhooks), list (GET /api/v1/webhooks), get (GET /api/v1/webhooks/{id}).
Each phase: requests per second over the phase, p50/p99/max latency, non-2xx answers.
"""

import asyncio
import random
import time

from bench import measure

API = "/api/v1/webhooks"
WARMUP_PER_CLIENT = 3


async def _timed(session, method: str, url: str, key: str, payload: dict | None = None) -> tuple[float, int, object]:
    started = time.perf_counter()
    async with session.request(method, url, json=payload, headers={"Authorization": f"Bearer {key}"}) as answer:
        body = await answer.json(content_type=None) if answer.status < 300 else await answer.read()
        return time.perf_counter() - started, answer.status, body


async def _phase(session, base: str, keys: list[str], per_client: int, request) -> dict:
    """Every client makes `per_client` requests (built by `request(client, i)`) back to back."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    bodies: list[list] = [[] for _ in keys]

    async def client(number: int, key: str) -> None:
        for i in range(per_client):
            method, path, payload = request(number, i)
            elapsed, status, body = await _timed(session, method, base + path, key, payload)
            latencies.append(elapsed)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            bodies[number].append(body)

    began = time.perf_counter()
    await asyncio.gather(*(client(number, key) for number, key in enumerate(keys)))
    elapsed = time.perf_counter() - began
    count = len(latencies)
    errors = sum(n for status, n in statuses.items() if not status.startswith("2"))
    return {"requests": count, "requests_per_s": round(count / elapsed, 1) if elapsed else None,
            **measure.latency_summary_ms(latencies), "errors": errors, "statuses": statuses, "_bodies": bodies}


async def _api_load(base: str, keys: list[str], per_operation: int) -> dict:
    import aiohttp

    per_client = max(per_operation // len(keys), 1)
    connector = aiohttp.TCPConnector(limit=len(keys), force_close=True)  # gunicorn's sync workers close anyway
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        await _phase(session, base, keys, WARMUP_PER_CLIENT, lambda c, i: ("GET", API, None))
        register = await _phase(session, base, keys, per_client, lambda c, i: (
            "POST", API, {"url": f"https://127.0.0.1/bench/{c}/{i}", "events": ["booking.created"]}))
        ids = [[body["id"] for body in bodies if isinstance(body, dict) and "id" in body]
               for bodies in register["_bodies"]]
        listing = await _phase(session, base, keys, per_client, lambda c, i: ("GET", API, None))
        rng = random.Random(7)
        get = await _phase(session, base, keys, per_client, lambda c, i: (
            "GET", f"{API}/{rng.choice(ids[c]) if ids[c] else 'missing'}", None))
    results = {"register": register, "list": listing, "get": get}
    for phase in results.values():
        phase.pop("_bodies")
    listed = listing["requests"] and all(s.startswith("2") for s in listing["statuses"])
    return {**results, "all_succeeded": bool(listed) and not any(p["errors"] for p in results.values())}


def run_api_load(base: str, keys: list[str], per_operation: int) -> dict:
    return asyncio.run(_api_load(base, keys, per_operation))
