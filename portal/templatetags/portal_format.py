from django import template

register = template.Library()


@register.filter
def percent(rate: float | None) -> str:
    """0.98765 -> "98.8 %"; None -> "" (nothing settled)."""
    return "" if rate is None else f"{rate * 100:.1f} %"


@register.filter
def grace_period(seconds: int) -> str:
    hours = seconds // 3600
    if not seconds:
        return "none"
    return f"{hours} hour{'s' if hours != 1 else ''}" if seconds % 3600 == 0 else f"{seconds} s"
