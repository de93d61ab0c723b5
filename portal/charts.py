"""The small per-hour chart of an endpoint's deliveries, as geometry for an inline SVG."""

from dataclasses import dataclass

CHART_HEIGHT = 32
BAR_WIDTH = 6
BAR_GAP = 2


@dataclass(frozen=True)
class HourBar:
    x: int
    succeeded_y: float
    succeeded_height: float
    failed_y: float
    failed_height: float
    label: str  # the bar's tooltip and text alternative


@dataclass(frozen=True)
class HourlyChart:
    bars: list[HourBar]
    width: int
    height: int
    succeeded: int
    failed: int

    @property
    def summary(self) -> str:
        return f"Last {len(self.bars)} hours: {self.succeeded} succeeded, {self.failed} failed"


def hourly_chart(buckets: list[dict]) -> HourlyChart:
    """Stacked bars, failed on top of succeeded, scaled to the busiest hour."""
    busiest = max((bucket["succeeded"] + bucket["failed"] for bucket in buckets), default=0) or 1
    bars = []
    for index, bucket in enumerate(buckets):
        succeeded = CHART_HEIGHT * bucket["succeeded"] / busiest
        failed = CHART_HEIGHT * bucket["failed"] / busiest
        bars.append(HourBar(
            x=index * (BAR_WIDTH + BAR_GAP),
            succeeded_y=CHART_HEIGHT - succeeded, succeeded_height=succeeded,
            failed_y=CHART_HEIGHT - succeeded - failed, failed_height=failed,
            label=f"{bucket['start']:%H:00} UTC: {bucket['succeeded']} succeeded, {bucket['failed']} failed",
        ))
    return HourlyChart(
        bars=bars,
        width=max(len(buckets) * (BAR_WIDTH + BAR_GAP) - BAR_GAP, 0),
        height=CHART_HEIGHT,
        succeeded=sum(bucket["succeeded"] for bucket in buckets),
        failed=sum(bucket["failed"] for bucket in buckets),
    )
