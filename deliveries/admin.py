"""The delivery log in the admin: read-only, filterable, searchable by event id."""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from .models import Delivery, DeliveryAttempt, Event, FailedDelivery
from .services import deliveries_redeliver


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


class DeliveryAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = [
        "number", "started_at", "queued_ms", "duration_ms", "status_code", "error", "error_detail", "response_body",
    ]
    readonly_fields = fields


class DeliveryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ["id", "endpoint", "status", "attempt_count", "next_attempt_at"]
    readonly_fields = fields
    show_change_link = True


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "type", "business", "occurred_at", "is_test"]
    list_filter = ["type", "is_test"]
    search_fields = ["id"]
    date_hierarchy = "occurred_at"
    fields = ["id", "type", "business", "occurred_at", "is_test", "payload_pretty"]
    readonly_fields = fields
    inlines = [DeliveryInline]

    @admin.display(description="payload")
    def payload_pretty(self, event):
        return pretty_json(event.body)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "event_type", "event_id", "endpoint", "status", "attempt_count", "next_attempt_at", "created_at"]
    list_filter = ["status", "event__type", "endpoint"]
    search_fields = ["event__id", "id"]
    list_select_related = ["event", "endpoint"]
    fields = [
        "id", "event", "endpoint", "status", "attempt_count", "series_start", "next_attempt_at",
        "claimed_until", "last_error", "created_at", "completed_at", "payload_pretty",
    ]
    readonly_fields = fields
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver"]

    @admin.action(description="Redeliver the selected deliveries (a fresh series of attempts)")
    def redeliver(self, request, queryset):
        count = deliveries_redeliver(queryset)
        skipped = queryset.count() - count
        note = f" ({skipped} still pending, left as they are)" if skipped else ""
        self.message_user(request, f"Redelivering {count} deliveries{note}.", messages.SUCCESS)

    @admin.display(description="event type", ordering="event__type")
    def event_type(self, delivery):
        return delivery.event.type

    @admin.display(description="payload")
    def payload_pretty(self, delivery):
        return pretty_json(delivery.event.body)


@admin.register(FailedDelivery)
class FailedDeliveryAdmin(DeliveryAdmin):
    """What needs an operator: why each failed, and a redeliver action."""

    list_display = ["id", "event_type", "endpoint", "attempt_count", "last_error", "completed_at"]
    list_filter = ["event__type", "endpoint", "completed_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=Delivery.Status.FAILED)


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["delivery", "number", "status_code", "error", "queued_ms", "duration_ms", "started_at"]
    list_filter = ["error", "delivery__status", "delivery__event__type", "delivery__endpoint"]
    search_fields = ["delivery__event__id", "delivery__id"]
    list_select_related = ["delivery"]
