"""The sender limit: a bare loop of the HTTP client the engine uses (requests), in threads.

    python -m bench.sender --url U --secret S --count N --threads T [--start-at UNIX]

Each thread has its own requests HTTPAdapter, sent prepared requests directly (as each
send thread of the engine has) and POSTs signed event bodies of the engine's shape, with the engine's headers, one after
the other: no database, no broker, no claim. Run with the workers' shape (processes x
threads), it says how many deliveries per second this machine can push to the
benchmark's receiver at all, so the engine's figures can be read as a fraction of it.
Prints one JSON line.
"""

import argparse
import base64
import hashlib
import hmac
import json
import secrets
import threading
import time

import requests
from requests.adapters import HTTPAdapter

SAMPLE_DATA = {
    "id": "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", "status": "confirmed",
    "service": {"id": "1f4a5c8e-0d5e-4c38-9d40-3c3f0b6d9e21", "name": "Express Wash"},
    "client": {"first_name": "Bench", "last_name": "Client 1", "email": "bench-1@example.com"},
    "starts_at": "2030-01-01T09:00:00+00:00", "ends_at": "2030-01-01T09:30:00+00:00",
    "location": {"id": "5d2c1e0a-8f3b-4a7e-b6c1-2e9d7f4a3b10", "name": "Main Shop"},
}


def signed_request(secret: str) -> tuple[bytes, dict[str, str]]:
    event_id = "evt_" + secrets.token_hex(16)
    body = json.dumps({"id": event_id, "event": "booking.created", "timestamp": "2030-01-01T08:00:00+00:00",
                       "data": SAMPLE_DATA}, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    standard = hmac.new(base64.b64decode(secret.removeprefix("whsec_")), f"{event_id}.{timestamp}.".encode() + body,
                        hashlib.sha256).digest()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Calendence-Webhooks/bench",
        "X-Calendence-Signature": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        "X-Calendence-Event": "booking.created",
        "X-Calendence-Event-Id": event_id,
        "X-Calendence-Delivery-Id": "dlv_" + secrets.token_hex(16),
        "X-Calendence-Attempt": "1",
        "webhook-id": event_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(standard).decode(),
    }
    return body, headers


def send_loop(url: str, secret: str, count: int, outcome: dict, lock: threading.Lock) -> None:
    adapter = HTTPAdapter(pool_maxsize=4, max_retries=0)
    sent = errors = 0
    for _ in range(count):
        body, headers = signed_request(secret)
        try:
            request = requests.Request("POST", url, data=body, headers=headers).prepare()
            response = adapter.send(request, timeout=10)
            errors += response.status_code != 200
        except requests.RequestException:
            errors += 1
        sent += 1
    with lock:
        outcome["sent"] += sent
        outcome["errors"] += errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--start-at", type=float, default=0.0)
    args = parser.parse_args()

    outcome, lock = {"sent": 0, "errors": 0}, threading.Lock()
    shares = [args.count // args.threads + (i < args.count % args.threads) for i in range(args.threads)]
    threads = [threading.Thread(target=send_loop, args=(args.url, args.secret, share, outcome, lock))
               for share in shares if share]
    while time.time() < args.start_at:
        time.sleep(0.01)
    began, cpu_began = time.time(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome.update(began=began, ended=time.time(), cpu_seconds=time.process_time() - cpu_began)
    print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    main()
