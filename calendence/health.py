"""Health and metrics for operators' tools: no authentication, outside /api/v1/.

/healthz: the process answers. /readyz: the database and the broker answer too,
so a load balancer or orchestrator can hold traffic back while either is down.
/metrics: Prometheus text, the delivery metrics read from the database.
"""

import logging
import os

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    generate_latest,
)

from deliveries.metrics import DeliveryLogCollector

from .celery import app as celery_app

logger = logging.getLogger(__name__)

# A broker that does not answer within this fails the check; the prober's own
# timeout must be longer (Kubernetes' default of 1 s is not).
BROKER_TIMEOUT_SECONDS = 2
# kombu's defaults when the filesystem transport is given no folders.
FILESYSTEM_DEFAULT_FOLDERS = {"data_folder_in": "data_in", "data_folder_out": "data_out"}

# A registry of our own: the process metrics plus the delivery log, nothing that
# another library might have registered on prometheus_client's global one.
REGISTRY = CollectorRegistry()
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR, DeliveryLogCollector()):
    REGISTRY.register(_collector)


@require_safe
def healthz(request):
    return JsonResponse({"status": "ok"})


@require_safe
def readyz(request):
    checks = {"database": database_check(), "broker": broker_check()}
    ready = all(result == "ok" for result in checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    return JsonResponse(body, status=200 if ready else 503)


@require_safe
def metrics(request):
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


def database_check() -> str:
    """Return "ok", or "error: <reason>" if a trivial query fails."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - whatever broke, the answer is "not ready"
        return _failure("database", exc)
    return "ok"


def broker_check() -> str:
    """Return "ok", or "error: <reason>" if the configured broker cannot be reached.

    One connection attempt, no retries, bounded by BROKER_TIMEOUT_SECONDS. The
    filesystem transport has no server: its folders must exist and be writable.
    """
    options = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        # Redis's connect and read timeouts (other transports ignore them): a host
        # that drops packets fails the check in time instead of hanging it.
        "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
        "socket_timeout": BROKER_TIMEOUT_SECONDS,
    }
    try:
        with celery_app.connection_for_write(
            settings.CELERY_BROKER_URL, transport_options=options, connect_timeout=BROKER_TIMEOUT_SECONDS
        ) as conn:
            if conn.transport.driver_type == "filesystem":
                _filesystem_folders_check(conn.transport_options)
            else:
                conn.ensure_connection(max_retries=0)
    except Exception as exc:  # noqa: BLE001 - as above
        return _failure("broker", exc)
    return "ok"


def _filesystem_folders_check(options: dict) -> None:
    for key, default in FILESYSTEM_DEFAULT_FOLDERS.items():
        folder = options.get(key) or default
        if not (os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)):
            raise OSError(f"{key} {folder} is missing or not writable")


def _failure(check: str, exc: Exception) -> str:
    logger.warning("Readiness check %s failed: %s", check, exc)
    lines = str(exc).strip().splitlines()
    return f"error: {(lines[0] if lines else type(exc).__name__)[:200]}"
