"""A fast webhook receiver for the benchmark, run as a subprocess (aiohttp, loopback only).

    python -m bench.receiver --port P --control-port C [--reuse-port]

Every request to /hook/<name> or /slow/<name> is verified as a real receiver would:
HMAC-SHA256 of the raw body keyed with that endpoint's secret, `sha256=` + hex, compared
in constant time with X-Calendence-Signature (or -Previous); the body's `id` must equal
X-Calendence-Event-Id. Requests to /peer/<name> come from django-webhook (the `peer`
scenario) and are verified as its docs' receiver does: HMAC-SHA256 of `<timestamp>:<body>`,
hex, one of the comma-separated Django-Webhook-Signature-v1; the body's `webhook_uuid`
must equal Django-Webhook-UUID. It records the arrival time (time.time(), the clock the
engine's occurred_at uses), the event and delivery ids and the attempt, answers 401 to
anything that fails the check, 200 at once on /hook/ and /peer/, and 200 after
`slow_seconds` on /slow/. A path with no secret is counted as unknown and answered 404.

A second port takes the runner's commands (secrets, reset, counts, records). Several
processes can share the data port (--reuse-port), each with its own control port.
"""

import argparse
import asyncio
import hashlib
import hmac
import json
import time
import urllib.request

SIGNATURE_HEADERS = ("X-Calendence-Signature", "X-Calendence-Signature-Previous")


class State:
    def __init__(self):
        self.secrets: dict[str, bytes] = {}
        self.slow_seconds = 5.0
        self.reset()

    def reset(self) -> None:
        # [arrival, path, event id, delivery id, attempt, signature valid]
        self.records: list[list] = []
        self.delivered: set[str] = set()
        self.invalid = 0
        self.unknown = 0


def _verified(secret: bytes, body: bytes, headers) -> bool:
    expected = ("sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()).encode()
    if not any(hmac.compare_digest(expected, (headers.get(name) or "").encode()) for name in SIGNATURE_HEADERS):
        return False
    try:
        return json.loads(body)["id"] == headers.get("X-Calendence-Event-Id")
    except (ValueError, KeyError, TypeError):
        return False


def _ours(secret: bytes, body: bytes, headers) -> tuple[bool, str, str, int]:
    """(valid, event id, delivery id, attempt) of a request from our engine."""
    return (_verified(secret, body, headers), headers.get("X-Calendence-Event-Id", ""),
            headers.get("X-Calendence-Delivery-Id", ""), int(headers.get("X-Calendence-Attempt") or 0))


def _peer(secret: bytes, body: bytes, headers) -> tuple[bool, str, str, int]:
    """The same of a request from django-webhook. It sends no event or delivery id: a delivery is
    one webhook's message about one object and topic, and the object's id stands for the event."""
    signed = (headers.get("Django-Webhook-Request-Timestamp") or "").encode() + b":" + body
    expected = hmac.new(secret, signed, hashlib.sha256).hexdigest().encode()
    offered = (headers.get("Django-Webhook-Signature-v1") or "").split(",")
    try:
        payload = json.loads(body)
        event_id = str(payload["object"]["id"])
        delivery_id = f"{payload['webhook_uuid']}/{payload['topic']}/{event_id}"
        valid = payload["webhook_uuid"] == headers.get("Django-Webhook-UUID")
    except (ValueError, KeyError, TypeError):
        return False, "", "", 0
    valid = any(hmac.compare_digest(expected, signature.encode()) for signature in offered) and valid
    return valid, event_id, delivery_id, 0


VERIFIERS = {"hook": _ours, "slow": _ours, "peer": _peer}  # by the path's first segment


def build_apps(state: State):
    from aiohttp import web

    async def hook(request):
        arrived = time.time()
        body = await request.read()
        secret = state.secrets.get(request.path)
        if secret is None:
            state.unknown += 1
            return web.Response(status=404)
        verify = VERIFIERS[request.path.split("/", 2)[1]]
        valid, event_id, delivery_id, attempt = verify(secret, body, request.headers)
        state.records.append([arrived, request.path, event_id, delivery_id, attempt, valid])
        if not valid:
            state.invalid += 1
            return web.Response(status=401)
        state.delivered.add(delivery_id)
        if request.path.startswith("/slow/"):
            await asyncio.sleep(state.slow_seconds)
        return web.Response(text="ok")

    async def set_secrets(request):
        state.secrets.update({path: secret.encode() for path, secret in (await request.json()).items()})
        return web.json_response({"secrets": len(state.secrets)})

    async def configure(request):
        state.slow_seconds = float((await request.json())["slow_seconds"])
        return web.json_response({"slow_seconds": state.slow_seconds})

    async def reset(request):
        state.reset()
        return web.json_response({"reset": True})

    async def counts(request):
        return web.json_response({"requests": len(state.records), "delivered": len(state.delivered),
                                  "invalid": state.invalid, "unknown": state.unknown})

    async def records(request):
        return web.json_response({"records": state.records, "invalid": state.invalid, "unknown": state.unknown})

    data = web.Application(client_max_size=2 * 1024 * 1024)
    data.router.add_post("/hook/{name}", hook)
    data.router.add_post("/slow/{name}", hook)
    data.router.add_post("/peer/{name}", hook)
    control = web.Application(client_max_size=64 * 1024 * 1024)
    control.router.add_post("/secrets", set_secrets)
    control.router.add_post("/config", configure)
    control.router.add_post("/reset", reset)
    control.router.add_get("/counts", counts)
    control.router.add_get("/records", records)
    return data, control


async def serve(port: int, control_port: int, reuse_port: bool) -> None:
    from aiohttp import web

    data, control = build_apps(State())
    for app, app_port, reuse in ((data, port, reuse_port), (control, control_port, False)):
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", app_port, reuse_port=reuse or None, backlog=2048).start()
    print("receiver ready", flush=True)
    await asyncio.Event().wait()


class ReceiverClient:
    """The runner's side: the same command to every receiver process, their answers merged."""

    def __init__(self, port: int, control_ports: list[int]):
        self.port = port
        self.control_urls = [f"http://127.0.0.1:{p}" for p in control_ports]

    def url(self, name: str, *, slow: bool = False, kind: str = "hook") -> str:
        """An endpoint's URL; `kind` is the path's first segment, which says how to verify it (VERIFIERS)."""
        return f"http://127.0.0.1:{self.port}/{'slow' if slow else kind}/{name}"

    def _call(self, base: str, path: str, payload: dict | None = None) -> dict:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(base + path, data=data, method="GET" if data is None else "POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def set_secrets(self, secrets_by_url: dict[str, str]) -> None:
        """Secrets keyed by endpoint URL (as registered)."""
        by_path = {"/" + url.split("/", 3)[3]: secret for url, secret in secrets_by_url.items()}
        for base in self.control_urls:
            self._call(base, "/secrets", by_path)

    def configure(self, *, slow_seconds: float) -> None:
        for base in self.control_urls:
            self._call(base, "/config", {"slow_seconds": slow_seconds})

    def reset(self) -> None:
        for base in self.control_urls:
            self._call(base, "/reset", {})

    def counts(self) -> dict:
        total: dict[str, int] = {}
        for base in self.control_urls:
            for key, value in self._call(base, "/counts").items():
                total[key] = total.get(key, 0) + value
        return total

    def records(self) -> tuple[list[list], int, int]:
        """Every request recorded since the last reset, by arrival time; invalid and unknown counts."""
        merged, invalid, unknown = [], 0, 0
        for base in self.control_urls:
            answer = self._call(base, "/records")
            merged += answer["records"]
            invalid, unknown = invalid + answer["invalid"], unknown + answer["unknown"]
        merged.sort(key=lambda record: record[0])
        return merged, invalid, unknown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--reuse-port", action="store_true")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.control_port, args.reuse_port))


if __name__ == "__main__":
    main()
