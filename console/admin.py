"""The console's cross-app admin: endpoints with their delivery health, businesses with their
endpoints and links into their delivery log. Numbers come from console.selectors (the stats
API's selectors); these classes only lay them out.

Each app's own admin (webhooks/admin.py, bookings/admin.py) is extended here and registered in
its place: the apps stay independent of the delivery log, which depends on them.
"""

from datetime import datetime

from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.contrib.admin.views.main import ChangeList
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import ngettext

from bookings.admin import BusinessAdmin
from bookings.models import Business
from calendence.admin_filters import ConsoleListMixin, autocomplete_filter
from deliveries.services import deliveries_recover
from webhooks.admin import WebhookEndpointAdmin
from webhooks.models import WebhookEndpoint
from webhooks.selectors import webhook_endpoints_serving

from .display import moment, moment_and_error, percent
from .forms import RecoverSinceForm
from .selectors import endpoints_health, health_window

admin.site.index_template = "console/admin_index.html"
# The app list beside every page took a quarter of a 1280 px screen from the lists' columns;
# the index and the breadcrumbs lead everywhere it did.
admin.site.enable_nav_sidebar = False

EndpointBusinessFilter = autocomplete_filter("business", "business", "business", "webhooks.WebhookEndpoint.business")


def deliveries_url(*, endpoint=None, business=None, status=None, since: datetime | None = None) -> str:
    """The delivery log's list, filtered as the console's links need."""
    query = {"endpoint": endpoint and endpoint.pk, "business": business and business.pk, "status__exact": status,
             "created_at__gte": since and since.isoformat()}
    return f"{reverse('admin:deliveries_delivery_changelist')}?{urlencode({k: v for k, v in query.items() if v})}"


class HealthChangeList(ChangeList):
    """The endpoint list: the page's endpoints get their health together, in two queries."""

    def get_results(self, request):
        super().get_results(request)
        health = endpoints_health(self.result_list)
        for endpoint in self.result_list:
            endpoint.health = health[endpoint.pk]


class EndpointHealthColumns:
    """Health, as a list's columns and the change page's read-only fields (endpoint.health set)."""

    @admin.display(description="state")
    def state(self, endpoint):
        if endpoint.is_deleted:
            return format_html(
                '<span class="console-state-off">Deleted</span><br><span class="console-muted">since {}</span>',
                moment(endpoint.deleted_at),
            )
        if endpoint.is_active:
            return mark_safe('<span class="console-state-ok">Active</span>')
        return format_html(
            '<span class="console-state-off">Disabled: {}</span><br><span class="console-muted">since {}</span>',
            endpoint.disabled_reason or "unknown reason", moment(endpoint.disabled_at),
        )

    @admin.display(description="success rate (24 h)")
    def success_rate(self, endpoint):
        return percent(endpoint.health.success_rate)

    @admin.display(description="deliveries (24 h)")
    def deliveries_24h(self, endpoint):
        since, _until = health_window()
        links = [
            format_html('<a href="{}">{} {}</a>', deliveries_url(endpoint=endpoint, status=status, since=since),
                        getattr(endpoint.health, status), status)
            for status in ("failed", "succeeded", "pending")
        ]
        return format_html("{}<br>{}<br>{}", *links)

    @admin.display(description="last success")
    def last_success(self, endpoint):
        return moment(endpoint.health.last_success_at)

    @admin.display(description="last failure")
    def last_failure(self, endpoint):
        return moment_and_error(endpoint.health.last_failure_at, endpoint.health.last_error)


class ConsoleWebhookEndpointAdmin(EndpointHealthColumns, ConsoleListMixin, WebhookEndpointAdmin):
    list_display = ["url", "business", "state", "success_rate", "deliveries_24h", "last_success", "last_failure"]
    list_filter = [EndpointBusinessFilter, "is_active", "disabled_reason"]
    health_fields = ["state", "success_rate", "deliveries_24h", "last_success", "last_failure"]
    actions = [*WebhookEndpointAdmin.actions, "recover"]

    def get_changelist(self, request, **kwargs):
        return HealthChangeList

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return [*fields, *self.health_fields] if obj else fields

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), *self.health_fields]

    def get_object(self, request, object_id, from_field=None):
        endpoint = super().get_object(request, object_id, from_field)
        if endpoint is not None:
            endpoint.health = endpoints_health([endpoint])[endpoint.pk]
        return endpoint

    @admin.action(description="Recover: redeliver the failed deliveries since a time", permissions=["change"])
    def recover(self, request, queryset):
        """Asks for the time first (an intermediate page, like delete's), then redelivers."""
        form = RecoverSinceForm(request.POST if "since" in request.POST else None)
        if not form.is_valid():
            context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form,
                       "endpoints": queryset, "title": "Recover failed deliveries",
                       "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME}
            return TemplateResponse(request, "console/recover_since.html", context)
        since, total = form.cleaned_data["since"], 0
        for endpoint in queryset:
            count = deliveries_recover(endpoint=endpoint, since=since)
            total += count
            self.log_change(
                request, endpoint, f"Recovered: redelivered {count} failed deliveries since {moment(since)}"
            )
        message = ngettext(
            "Redelivering %d failed delivery since %s.", "Redelivering %d failed deliveries since %s.", total
        )
        self.message_user(request, message % (total, moment(since)), messages.SUCCESS)
        return None


class ConsoleBusinessAdmin(ConsoleListMixin, BusinessAdmin):
    readonly_fields = ["webhooks"]

    def get_fields(self, request, obj=None):
        fields = [field for field in super().get_fields(request, obj) if field != "webhooks"]
        return [*fields, "webhooks"] if obj else fields

    @admin.display(description="webhooks and deliveries")
    def webhooks(self, business):
        endpoints = list(webhook_endpoints_serving(business).select_related("business", "hub"))
        health = endpoints_health(endpoints)
        for endpoint in endpoints:
            endpoint.health = health[endpoint.pk]
        columns = EndpointHealthColumns()
        rows = [
            {"endpoint": endpoint, "url": reverse("admin:webhooks_webhookendpoint_change", args=[quote(endpoint.pk)]),
             **{name: getattr(columns, name)(endpoint) for name in ConsoleWebhookEndpointAdmin.health_fields}}
            for endpoint in endpoints
        ]
        since, _until = health_window()
        context = {
            "rows": rows,
            "deliveries_url": deliveries_url(business=business),
            "failed_url": (
                f"{reverse('admin:deliveries_faileddelivery_changelist')}?{urlencode({'business': business.pk})}"
            ),
            "failed_24h_url": deliveries_url(business=business, status="failed", since=since),
            "events_url": f"{reverse('admin:deliveries_event_changelist')}?{urlencode({'business': business.pk})}",
        }
        return render_to_string("console/business_webhooks.html", context)


for model, model_admin in ((WebhookEndpoint, ConsoleWebhookEndpointAdmin), (Business, ConsoleBusinessAdmin)):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
