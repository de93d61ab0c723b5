"""The console's overview page: how delivery is going, at a glance (linked from the admin index)."""

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.template.response import TemplateResponse

from . import selectors
from .charts import hourly_bars
from .workers import workers_ping


@staff_member_required
def overview(request):
    buckets = selectors.hourly_outcomes()
    context = {
        **admin.site.each_context(request),
        "title": "Overview",
        "chart": hourly_bars(buckets),
        "totals": {status: sum(bucket[status] for bucket in buckets) for status in ("succeeded", "failed")},
        "failing": selectors.endpoints_failing_most(),
        "backlog": selectors.backlog(),
        "workers": workers_ping(),
    }
    return TemplateResponse(request, "console/overview.html", context)
