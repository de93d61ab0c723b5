from django.contrib import admin

from .models import WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "business", "hub", "is_active", "disabled_reason", "created_at", "deleted_at"]
    list_filter = ["is_active", "disabled_reason"]
    search_fields = ["url", "id", "description"]
    readonly_fields = ["id", "secret", "created_at", "updated_at", "deleted_at"]
