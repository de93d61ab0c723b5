"""Deliveries per hour as an inline SVG bar chart: geometry computed here, drawn by the template."""

from dataclasses import dataclass

from django.utils import timezone

WIDTH, HEIGHT, AXIS = 720, 160, 20


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    succeeded_y: float
    succeeded_height: float
    failed_y: float
    failed_height: float
    label: str  # the hour, shown under every third bar
    title: str  # the tooltip


def hourly_bars(buckets: list[dict]) -> dict:
    """Stacked bars (failed on top of succeeded) for hourly buckets, scaled to the busiest hour."""
    peak = max((bucket["succeeded"] + bucket["failed"] for bucket in buckets), default=0) or 1
    slot = WIDTH / max(len(buckets), 1)
    scale = (HEIGHT - AXIS) / peak
    bars = []
    for index, bucket in enumerate(buckets):
        hour = timezone.localtime(bucket["start"])
        ok, failed = bucket["succeeded"] * scale, bucket["failed"] * scale
        bottom = HEIGHT - AXIS
        bars.append(Bar(
            x=round(index * slot + 1, 1), width=round(slot - 2, 1),
            succeeded_y=round(bottom - ok, 1), succeeded_height=round(ok, 1),
            failed_y=round(bottom - ok - failed, 1), failed_height=round(failed, 1),
            label=f"{hour:%H}:00" if index % 3 == 0 else "",
            title=f"{hour:%Y-%m-%d %H}:00 {hour:%Z}: {bucket['succeeded']} succeeded, {bucket['failed']} failed",
        ))
    return {"bars": bars, "peak": peak, "width": WIDTH, "height": HEIGHT, "baseline": HEIGHT - AXIS}
