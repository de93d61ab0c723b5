"""How the console shows times and health: to the second, with the time zone, everywhere."""

from datetime import datetime

from django.utils import formats, timezone
from django.utils.html import format_html


def moment(value: datetime | None) -> str:
    """'2026-03-24 14:03:07 UTC' in the current time zone (the same format as every admin field), or '-'."""
    if value is None:
        return "-"
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%".replace(".0%", "%")


def moment_and_error(at: datetime | None, error: str | None):
    """A failure: when, and what went wrong under it."""
    if at is None:
        return "-"
    return format_html('{}<br><span class="console-error">{}</span>', moment(at), error or "")
