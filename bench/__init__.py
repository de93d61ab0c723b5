"""The benchmark harness (`make bench`, `python -m bench`).

It measures the delivery engine from the outside, through public pieces only: the
services (bookings.services, webhooks.services, bookings.api_keys), the settings (read
from the environment), the worker, beat and web commands of docker-compose.yml, the
HTTP API, and the Event / Delivery / DeliveryAttempt rows for counting. So the engine
can change underneath and the harness keeps measuring it.

Modules:
  config     sizes, paths, the production commands parsed from docker-compose.yml
  infra      the bench database, the environment of every process, starting and stopping them
  receiver   a fast aiohttp receiver that verifies every signature (a subprocess)
  load       creates bookings through the service code path (a subprocess)
  sender     a bare loop of the engine's HTTP client, requests (a subprocess)
  measure    waiting, accounting (receipts against the delivery log), statistics
  scenarios  the scenarios (and the optional soak)
  peerside   the peer, django-webhook 0.0.15 (bench/peer/), in a virtualenv of its own
  run        the command line: python -m bench
  report     bench/report.png from bench/results.jsonl
"""
