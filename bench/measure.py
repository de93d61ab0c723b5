"""Waiting, counting and statistics: receipts at the receiver against the delivery log.

Only public pieces are read: the receiver's records, and the Event, Delivery and
DeliveryAttempt rows (through their models) for counting and for occurred_at.
"""

import math
import os
import threading
import time
from collections.abc import Callable, Iterable

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --- Statistics ---------------------------------------------------------------------------------

def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary_ms(seconds: list[float]) -> dict:
    def ms(value):
        return None if value is None else round(value * 1000, 1)

    return {"count": len(seconds), "p50_ms": ms(percentile(seconds, 0.50)), "p99_ms": ms(percentile(seconds, 0.99)),
            "max_ms": ms(max(seconds) if seconds else None)}


def per_second(count: int, start: float | None, end: float | None) -> float | None:
    if not count or start is None or end is None or end <= start:
        return None
    return round(count / (end - start), 1)


def median(values: Iterable[float | None]) -> float | None:
    present = sorted(v for v in values if v is not None)
    return percentile(present, 0.5)


# --- Waiting ------------------------------------------------------------------------------------

def wait_for_receipts(receiver, expected: int, timeout: float, stall: float = 60.0) -> dict:
    """Poll the receiver until `expected` deliveries arrived, nothing arrived for `stall` s, or timeout."""
    deadline, last_count, last_change = time.monotonic() + timeout, -1, time.monotonic()
    while True:
        counts = receiver.counts()
        if counts["delivered"] >= expected:
            return {**counts, "complete": True}
        now = time.monotonic()
        if counts["requests"] != last_count:
            last_count, last_change = counts["requests"], now
        if now > deadline or now - last_change > stall:
            return {**counts, "complete": False}
        time.sleep(0.1)


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


# --- Accounting ---------------------------------------------------------------------------------

def delivery_log(endpoint_ids: list) -> dict:
    """What the delivery log says about the scenario's endpoints."""
    from django.db.models import Count, Q

    from deliveries.models import Delivery, DeliveryAttempt

    by_status = dict(Delivery.objects.filter(endpoint_id__in=endpoint_ids).values_list("status")
                     .annotate(n=Count("id")).values_list("status", "n"))
    attempts = DeliveryAttempt.objects.filter(delivery__endpoint_id__in=endpoint_ids).aggregate(
        total=Count("id"), open=Count("id", filter=Q(finished_at__isnull=True)),
        failed=Count("id", filter=Q(error__isnull=False) | Q(status_code__isnull=True) | Q(status_code__gte=300)),
    )
    return {"deliveries": sum(by_status.values()), "by_status": by_status, "attempts_logged": attempts["total"],
            "attempts_open": attempts["open"], "attempts_failed": attempts["failed"]}


def settled(endpoint_ids: list) -> bool:
    from deliveries.models import Delivery

    return not Delivery.objects.filter(endpoint_id__in=endpoint_ids, status="pending").exists()


def occurred_at_by_event(business_ids: list) -> dict[str, float]:
    from deliveries.models import Event

    return {event_id: moment.timestamp() for event_id, moment in
            Event.objects.filter(business_id__in=business_ids).values_list("id", "occurred_at")}


def receipts(records: list[list], paths: set[str] | None = None) -> dict:
    """First valid receipt of each delivery: {delivery id: (arrival, path, event id)}; duplicates counted."""
    first: dict[str, tuple[float, str, str]] = {}
    duplicates = 0
    for arrived, path, event_id, delivery_id, _attempt, valid in records:
        if not valid or (paths is not None and path not in paths):
            continue
        if delivery_id in first:
            duplicates += 1
        else:
            first[delivery_id] = (arrived, path, event_id)
    return {"first": first, "duplicates": duplicates}


def latencies(first: dict, occurred: dict[str, float]) -> list[float]:
    """Event-to-receipt latency of each delivery: its first receipt minus its event's occurred_at."""
    return [arrived - occurred[event_id] for arrived, _path, event_id in first.values() if event_id in occurred]


# --- Worker memory and CPU ------------------------------------------------------------------------

def _descendants(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending += [int(child) for child in children.read().split()]
        except OSError:
            pass
    return found


def process_usage(pid: int) -> tuple[int, float] | None:
    """(RSS in bytes, CPU seconds) of a process and its children, from /proc; None if unavailable."""
    rss, cpu, seen = 0, 0.0, False
    for member in _descendants(pid):
        try:
            with open(f"/proc/{member}/statm") as statm:
                rss += int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            with open(f"/proc/{member}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            seen = True
        except (OSError, ValueError, IndexError):
            continue
    return (rss, cpu) if seen else None


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (not idle, not waiting
    on I/O, nor stolen by the hypervisor), from /proc/stat: the workers, the receiver,
    PostgreSQL, Redis and all the rest."""
    with open("/proc/stat") as stat:
        user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in stat.readline().split()[1:8])
    return (user + nice + system + irq + softirq) / CLOCK_TICKS


class UsageSampler(threading.Thread):
    """Samples RSS and CPU of named processes every `interval` s, for the scenario windows,
    and the whole machine's busy CPU (as MACHINE, with no RSS)."""

    MACHINE = "machine"

    def __init__(self, interval: float = 0.5):
        super().__init__(daemon=True, name="bench-usage-sampler")
        self.interval = interval
        self.watched: dict[str, int] = {}
        self.samples: list[tuple[float, str, int, float]] = []  # time, name, rss, cpu
        self._stop_event = threading.Event()
        self._lock = threading.Lock()

    def watch(self, name: str, pid: int) -> None:
        with self._lock:
            self.watched[name] = pid

    def unwatch(self, name: str) -> None:
        with self._lock:
            self.watched.pop(name, None)

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        with self._lock:
            watched = dict(self.watched)
        now = time.time()
        self.samples.append((now, self.MACHINE, 0, machine_busy_seconds()))
        for name, pid in watched.items():
            usage = process_usage(pid)
            if usage is not None:
                self.samples.append((now, name, *usage))

    def stop(self) -> None:
        self._stop_event.set()

    def window(self, start: float, end: float, prefix: str = "worker") -> dict:
        """RSS start/end/max (MiB) and CPU seconds used between start and end, per process."""
        per_name: dict[str, list] = {}
        for moment, name, rss, cpu in self.samples:
            if start <= moment <= end and name.startswith(prefix):
                per_name.setdefault(name, []).append((rss, cpu))
        mib = 1024 * 1024
        return {
            name: {"rss_start_mib": round(rows[0][0] / mib, 1), "rss_end_mib": round(rows[-1][0] / mib, 1),
                   "rss_max_mib": round(max(r for r, _ in rows) / mib, 1),
                   "cpu_s": round(rows[-1][1] - rows[0][1], 2)}
            for name, rows in per_name.items()
        }
