"""The delivery log in the admin: read-only, found by business, endpoint, time or event id,
with each delivery's attempts as a timeline and a Redeliver button where the failure is seen."""

import json

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from calendence.admin_filters import ConsoleListMixin, TimeRangeFilter, autocomplete_filter

from .models import ANSWERED_2XX, Delivery, DeliveryAttempt, Event, FailedDelivery
from .services import deliveries_redeliver_ids

BusinessOfEventFilter = autocomplete_filter("business", "business", "event__business", "deliveries.Event.business")
EndpointFilter = autocomplete_filter("endpoint", "endpoint", "endpoint", "deliveries.Delivery.endpoint")
BusinessFilter = autocomplete_filter("business", "business", "business", "deliveries.Event.business")
AttemptBusinessFilter = autocomplete_filter(
    "business", "business", "delivery__event__business", "deliveries.Event.business"
)
AttemptEndpointFilter = autocomplete_filter(
    "endpoint", "endpoint", "delivery__endpoint", "deliveries.Delivery.endpoint"
)
BUSINESS_SEARCH = ["event__business__name", "=event__business__id"]


class ReadOnlyAdminMixin:
    """The log records what happened; nobody edits history."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def pretty_json(text: str):
    try:
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        pass
    return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)


def redeliver_message(*, selected: int, redelivered: int) -> str:
    """'Redelivering 1 delivery (1 still pending, left as it is).'"""
    message = ngettext("Redelivering %d delivery", "Redelivering %d deliveries", redelivered) % redelivered
    pending = max(selected - redelivered, 0)
    if pending:
        message += ngettext(
            " (%d still pending, left as it is)", " (%d still pending, left as they are)", pending
        ) % pending
    return message + "."


class DeliveryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ["id", "endpoint", "status", "attempt_count", "next_attempt_at", "last_error"]
    readonly_fields = fields
    show_change_link = True


@admin.register(Event)
class EventAdmin(ConsoleListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "type", "business", "occurred_at", "is_test"]
    list_filter = [BusinessFilter, "type", "is_test", ("occurred_at", TimeRangeFilter)]
    list_select_related = ["business"]
    search_fields = ["=id", "business__name", "=business__id"]
    date_hierarchy = "occurred_at"
    fields = ["id", "type", "business", "occurred_at", "is_test", "payload_pretty"]
    readonly_fields = fields
    inlines = [DeliveryInline]

    @admin.display(description="payload")
    def payload_pretty(self, event):
        return pretty_json(event.body)


@admin.register(Delivery)
class DeliveryAdmin(ConsoleListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    # The columns an operator scans fit at 1280 px next to the filters: ids shortened (searchable in full).
    list_display = [
        "short_id", "created_at", "status", "business", "endpoint_url", "event_type", "tries", "last_error_short",
    ]
    list_display_links = ["short_id"]
    list_filter = [
        "status", BusinessOfEventFilter, EndpointFilter, "event__type", ("created_at", TimeRangeFilter),
    ]
    search_fields = ["=event__id", "=id", *BUSINESS_SEARCH, "endpoint__url"]
    list_select_related = ["event__business", "endpoint"]
    date_hierarchy = "created_at"
    change_form_template = "admin/deliveries/delivery/change_form.html"
    summary_fields = [
        "id", "event", "business", "endpoint", "status", "attempt_count", "series_start", "next_attempt_at",
        "claimed_until", "last_error", "created_at", "completed_at",
    ]
    # The payload folded, so the attempts (below the fieldsets) come right after the summary.
    fieldsets = [
        (None, {"fields": summary_fields}),
        ("Payload", {"fields": ["payload_pretty"], "classes": ["collapse"]}),
    ]
    readonly_fields = [*summary_fields, "payload_pretty"]
    actions = ["redeliver"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("event__business", "endpoint")

    def has_redeliver_permission(self, request, obj=None):
        """Redelivering changes the delivery's state: the change permission on deliveries."""
        return request.user.has_perm(f"{self.opts.app_label}.change_{Delivery._meta.model_name}")

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_redeliver"
        view = self.admin_site.admin_view(require_POST(self.redeliver_view))
        return [path("<path:object_id>/redeliver/", view, name=name), *super().get_urls()]

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context.update(
                attempts=obj.attempts.order_by("number"),
                can_redeliver=self.has_redeliver_permission(request) and obj.status != Delivery.Status.PENDING,
                redeliver_url=reverse(
                    f"admin:{self.opts.app_label}_{self.opts.model_name}_redeliver", args=[quote(obj.pk)]
                ),
            )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def redeliver_view(self, request, object_id):
        """The Redeliver button of a delivery's page (POST, CSRF-checked by the admin's middleware)."""
        delivery = self.get_object(request, unquote(object_id))
        if delivery is None:
            raise Http404("No delivery with this id.")
        if not self.has_redeliver_permission(request, delivery):
            raise PermissionDenied
        self._redeliver(request, [delivery])
        return HttpResponseRedirect(
            reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[quote(delivery.pk)])
        )

    @admin.action(
        description="Redeliver the selected deliveries (a fresh series of attempts)", permissions=["redeliver"]
    )
    def redeliver(self, request, queryset):
        self._redeliver(request, list(queryset))

    def _redeliver(self, request, deliveries: list[Delivery]) -> None:
        redelivered = set(deliveries_redeliver_ids(Delivery.objects.filter(pk__in=[d.pk for d in deliveries])))
        for delivery in deliveries:
            if delivery.pk in redelivered:
                self.log_change(request, delivery, f"Redelivered (was {delivery.status})")
        self.message_user(
            request, redeliver_message(selected=len(deliveries), redelivered=len(redelivered)), messages.SUCCESS
        )

    @admin.display(description="delivery", ordering="id")
    def short_id(self, delivery):
        return format_html('<span title="{}">{}…</span>', delivery.id, delivery.id[:12])

    @admin.display(description="business", ordering="event__business__name")
    def business(self, delivery):
        return delivery.event.business or "-"

    @admin.display(description="endpoint", ordering="endpoint__url")
    def endpoint_url(self, delivery):
        url = delivery.endpoint.url
        return format_html('<span title="{}">{}</span>', url, Truncator(url.split("://", 1)[-1]).chars(36))

    @admin.display(description="tries", ordering="attempt_count")
    def tries(self, delivery):
        return delivery.attempt_count

    @admin.display(description="event type", ordering="event__type")
    def event_type(self, delivery):
        return delivery.event.type

    @admin.display(description="last error")
    def last_error_short(self, delivery):
        return Truncator(delivery.last_error).chars(40) or "-"

    @admin.display(description="payload")
    def payload_pretty(self, delivery):
        return pretty_json(delivery.event.body)


@admin.register(FailedDelivery)
class FailedDeliveryAdmin(DeliveryAdmin):
    """What needs an operator: why each failed, and a redeliver action."""

    list_display = ["short_id", "completed_at", "business", "endpoint_url", "event_type", "tries", "last_error_short"]
    list_filter = [BusinessOfEventFilter, EndpointFilter, "event__type", ("completed_at", TimeRangeFilter)]
    date_hierarchy = "completed_at"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=Delivery.Status.FAILED)


class AttemptOutcomeFilter(admin.SimpleListFilter):
    """By outcome: succeeded, an HTTP error (any non-2xx answer, "HTTP 500"), or the error code
    of an attempt that got no answer (timeout, connection_refused, ...)."""

    title = "outcome"
    parameter_name = "outcome"
    HTTP_ERROR = "http_error"

    def lookups(self, request, model_admin):
        codes = DeliveryAttempt.objects.exclude(error=None).order_by("error").values_list("error", flat=True).distinct()
        return [
            ("succeeded", "succeeded"),
            (self.HTTP_ERROR, "HTTP error (non-2xx answer)"),
            *((code, code) for code in codes),
        ]

    def queryset(self, request, queryset):
        answered = queryset.filter(error=None, status_code__isnull=False)
        if self.value() == "succeeded":
            return answered.filter(ANSWERED_2XX)
        if self.value() == self.HTTP_ERROR:
            return answered.exclude(ANSWERED_2XX)
        return queryset.filter(error=self.value()) if self.value() else queryset


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ConsoleListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["started_at", "delivery", "number", "outcome", "duration_ms", "queued_ms"]
    list_filter = [
        AttemptOutcomeFilter, AttemptBusinessFilter, AttemptEndpointFilter, "delivery__status",
        "delivery__event__type", ("started_at", TimeRangeFilter),
    ]
    search_fields = ["=delivery__event__id", "=delivery__id"]
    list_select_related = ["delivery"]
    ordering = ["-started_at", "-number"]
    date_hierarchy = "started_at"

    @admin.display(description="outcome")
    def outcome(self, attempt):
        if attempt.finished_at is None:
            return "in flight"
        return "succeeded" if attempt.error is None and 200 <= (attempt.status_code or 0) < 300 else attempt.summary
