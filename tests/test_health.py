"""/healthz, /readyz and /metrics, as operators' tools scrape them: no key, real services."""

import socket
import time
from datetime import timedelta

import pytest
from django.db import OperationalError, connections
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from deliveries.attempts import claim_expiry
from deliveries.metrics import DURATION_BUCKETS
from deliveries.models import Delivery, DeliveryAttempt
from tests.conftest import STARTS_AT
from tests.support.engine import delivery_attempt
from tests.support.receiver import Answer


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_answers_while_the_process_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_answers_ok_with_the_configured_database_and_broker(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_readyz_names_the_broker_when_nothing_listens_there(client, db, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{unused_port()}/0"
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 3  # one attempt, no retries
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error: ")


def test_readyz_names_the_broker_when_the_filesystem_broker_folder_is_missing(client, db, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    missing = str(tmp_path / "missing")
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": missing, "data_folder_out": missing}
    response = client.get("/readyz")
    assert response.status_code == 503
    broker = f"error: data_folder_in {missing} is missing or not writable"
    assert response.json()["checks"] == {"database": "ok", "broker": broker}


def test_readyz_names_the_database_when_it_does_not_answer(client, db, monkeypatch):
    # The shared PostgreSQL cannot be stopped for a test: its connection refuses instead.
    def refuse(self, *args, **kwargs):
        raise OperationalError("connection to server failed: Connection refused")

    with monkeypatch.context() as patch:  # undone before the test's transaction rolls back
        patch.setattr(type(connections["default"]), "cursor", refuse)
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "error: connection to server failed: Connection refused", "broker": "ok"},
    }


def scrape(client) -> dict[str, float]:
    """The exposition parsed the way Prometheus reads it: {'name{label="v"}': value}."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")  # the Prometheus text format
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            labels = ",".join(f'{name}="{value}"' for name, value in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


@pytest.fixture
def delivery_log(tenant, make_booking, make_endpoint, make_receiver, django_capture_on_commit_callbacks, settings):
    """Real attempts against local receivers, then deliveries in each state the metrics tell apart.

    Endpoints: one answering 200, one answering 503, one whose port refuses connections.
    Booking 1: succeeded (1 attempt), pending with a retry not yet due (1 x http_error),
    failed (2 x connection_refused). Booking 2: pending and due for 120 s, pending and
    claimed by a live worker, pending with a dead worker's expired claim (due for 30 s).
    """
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    refusing = make_receiver()
    endpoints = {
        "ok": make_endpoint(tenant, make_receiver()),
        "503": make_endpoint(tenant, make_receiver(Answer(status=503))),
        "refused": make_endpoint(tenant, refusing),
    }
    refusing.close()

    def deliveries_of_a_new_booking(starts_at) -> dict[str, Delivery]:
        earlier = list(Delivery.objects.values_list("id", flat=True))
        with django_capture_on_commit_callbacks(execute=False):  # no Celery message
            make_booking(tenant, starts_at=starts_at)
        rows = Delivery.objects.exclude(pk__in=earlier)
        return {name: rows.get(endpoint=endpoint) for name, endpoint in endpoints.items()}

    first = deliveries_of_a_new_booking(STARTS_AT)
    for delivery in first.values():
        delivery_attempt(delivery.id)
    Delivery.objects.filter(pk=first["refused"].pk).update(next_attempt_at=timezone.now())
    delivery_attempt(first["refused"].id)

    second = deliveries_of_a_new_booking(STARTS_AT + timedelta(days=1))
    now = timezone.now()
    Delivery.objects.filter(pk=second["ok"].pk).update(next_attempt_at=now - timedelta(seconds=120))
    Delivery.objects.filter(pk=second["refused"].pk).update(claimed_until=claim_expiry(now))  # a live worker holds it
    Delivery.objects.filter(pk=second["503"].pk).update(
        next_attempt_at=now - timedelta(seconds=30), claimed_until=now - timedelta(seconds=1)
    )
    return first, second


def test_metrics_count_deliveries_by_status_and_attempts_by_outcome(client, delivery_log):
    first, _ = delivery_log
    assert Delivery.objects.get(pk=first["refused"].pk).status == "failed"  # the scenario is what it says
    samples = scrape(client)
    assert samples['calendence_deliveries{status="succeeded"}'] == 1
    assert samples['calendence_deliveries{status="failed"}'] == 1
    assert samples['calendence_deliveries{status="pending"}'] == 4
    assert samples['calendence_delivery_attempts_total{outcome="succeeded"}'] == 1
    assert samples['calendence_delivery_attempts_total{outcome="http_error"}'] == 1
    assert samples['calendence_delivery_attempts_total{outcome="connection_refused"}'] == 2


def test_metrics_count_due_deliveries_no_live_worker_holds(client, delivery_log):
    samples = scrape(client)
    assert samples["calendence_deliveries_due_unsent"] == 2
    assert 120 <= samples["calendence_deliveries_due_unsent_oldest_age_seconds"] < 130


def test_metrics_histogram_of_attempt_durations_matches_the_attempt_rows(client, delivery_log):
    samples = scrape(client)
    durations = list(DeliveryAttempt.objects.values_list("duration_ms", flat=True))
    assert len(durations) == 4 and None not in durations
    name = "calendence_delivery_attempt_duration_seconds"
    assert samples[f"{name}_count"] == 4
    assert samples[f"{name}_sum"] == pytest.approx(sum(durations) / 1000)
    cumulative = [samples[f'{name}_bucket{{le="{float(bound)}"}}'] for bound in DURATION_BUCKETS]
    cumulative.append(samples[f'{name}_bucket{{le="+Inf"}}'])
    assert cumulative == sorted(cumulative) and cumulative[-1] == 4
    for bound, count in zip(DURATION_BUCKETS, cumulative, strict=False):  # cumulative ends with +Inf
        assert count == sum(1 for ms in durations if ms <= bound * 1000)


def test_metrics_histogram_buckets_include_their_upper_bound(client, delivery_log):
    for attempt, ms in zip(DeliveryAttempt.objects.order_by("id"), (25, 26, 1000, 70_000), strict=True):
        DeliveryAttempt.objects.filter(pk=attempt.pk).update(duration_ms=ms)
    samples = scrape(client)
    name = "calendence_delivery_attempt_duration_seconds"
    buckets = {le: samples[f'{name}_bucket{{le="{le}"}}'] for le in ("0.025", "0.05", "0.5", "1.0", "60.0", "+Inf")}
    assert buckets == {"0.025": 1, "0.05": 2, "0.5": 2, "1.0": 3, "60.0": 3, "+Inf": 4}
    assert samples[f"{name}_sum"] == pytest.approx(71.051)


def test_metrics_of_an_empty_log_are_zero_and_process_metrics_are_included(client, db):
    samples = scrape(client)
    assert samples['calendence_deliveries{status="pending"}'] == 0
    assert samples["calendence_deliveries_due_unsent"] == 0
    assert samples["calendence_deliveries_due_unsent_oldest_age_seconds"] == 0
    assert samples["calendence_delivery_attempt_duration_seconds_count"] == 0
    assert any(name.startswith("python_info") for name in samples)


def test_health_paths_need_no_api_key_and_are_outside_the_api(client, db):
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path).status_code == 200
        assert client.get(f"/api/v1{path}").status_code == 404
