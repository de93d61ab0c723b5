from django import forms
from django.contrib import admin, messages
from django.db.models import Count

from . import services
from .models import WebhookEndpoint
from .url_policy import clean_endpoint_url


class WebhookEndpointForm(forms.ModelForm):
    def clean_url(self):
        # Stored as the API stores it: the host name in ASCII, as checked.
        return clean_endpoint_url(self.cleaned_data["url"])


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "business", "hub", "is_active", "disabled_reason", "created_at", "deleted_at"]
    list_filter = ["is_active", "disabled_reason"]
    search_fields = ["url", "id", "description"]
    readonly_fields = ["id", "delivery_counts", "secret", "created_at", "updated_at", "deleted_at"]
    actions = ["enable", "disable"]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # A new endpoint's id and secret are made when it is saved: the add page would show
        # values that the saved endpoint does not have.
        return fields if obj else [field for field in fields if field not in ("id", "secret")]

    @admin.display(description="deliveries by status")
    def delivery_counts(self, endpoint):
        counts = dict(endpoint.deliveries.values_list("status").annotate(n=Count("pk")))
        return ", ".join(f"{status}: {counts.get(status, 0)}" for status in ("pending", "succeeded", "failed"))

    @admin.action(description="Enable the selected webhooks (clears the disabled reason)")
    def enable(self, request, queryset):
        self._set_active(request, queryset, True)

    @admin.action(description="Disable the selected webhooks")
    def disable(self, request, queryset):
        self._set_active(request, queryset, False)

    def _set_active(self, request, queryset, is_active: bool):
        for endpoint in queryset.alive():
            services.webhook_endpoint_update(endpoint=endpoint, is_active=is_active)
        self.message_user(request, f"{'Enabled' if is_active else 'Disabled'} {queryset.count()} webhooks.", messages.SUCCESS)
