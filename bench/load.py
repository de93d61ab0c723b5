"""Creates bookings through the service's own code path, in a process of its own.

    python -m bench.load --business ID --count N [--rate R] [--start-at UNIX] [--tag T]

Each booking is bookings.services.booking_create (its transaction, the domain signal,
event_publish, the deliveries, the after-commit hand-off to Celery): what the API and
admin do. With --rate the bookings are paced at R per second (a schedule, not a sleep
after each: a late one is made at once). Prints one JSON line: the count, the wall time
of the first and the last commit, and this process's CPU time
in the loop.
"""

import argparse
import json
import os
import time
from datetime import UTC, datetime, timedelta


def create_bookings(business_id: str, count: int, rate: float, start_at: float, tag: str) -> dict:
    from bookings.models import Business
    from bookings.services import booking_create

    business = Business.objects.get(pk=business_id)
    service, location = business.services.first(), business.locations.first()
    starts = datetime(2030, 1, 1, 9, tzinfo=UTC)
    while (wait := start_at - time.time()) > 0:  # read once: it can pass zero between two reads
        time.sleep(min(wait, 0.05))
    began, first_commit, worst_lag, cpu_began = time.time(), None, 0.0, time.process_time()
    for number in range(count):
        if rate:
            due = began + number / rate
            lag = time.time() - due
            if lag < 0:
                time.sleep(-lag)
            worst_lag = max(worst_lag, lag)
        booking_create(
            business=business, service=service, location=location,
            client={"first_name": "Bench", "last_name": f"Client {number}", "email": f"{tag}-{number}@example.com"},
            starts_at=starts + timedelta(minutes=30 * number), ends_at=starts + timedelta(minutes=30 * number + 30),
        )
        if first_commit is None:
            first_commit = time.time()
    last_commit = time.time()
    return {"count": count, "first_commit": first_commit, "last_commit": last_commit,
            "cpu_seconds": time.process_time() - cpu_began, "worst_lag_s": round(worst_lag, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--business", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, default=0.0, help="bookings per second; 0: as fast as possible")
    parser.add_argument("--start-at", type=float, default=0.0, help="wall time to begin at (after set-up)")
    parser.add_argument("--tag", default=f"load{os.getpid()}", help="makes client emails unique")
    args = parser.parse_args()

    import django

    django.setup()
    result = create_bookings(args.business, args.count, args.rate, args.start_at, args.tag)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
