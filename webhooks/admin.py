from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from . import services
from .models import WebhookEndpoint
from .url_policy import clean_endpoint_url


class WebhookEndpointForm(forms.ModelForm):
    def clean_url(self):
        # Stored as the API stores it: the host name in ASCII, as checked.
        return clean_endpoint_url(self.cleaned_data["url"])

REVEAL_LOG_MESSAGE = "Revealed the signing secret"


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "business", "hub", "is_active", "disabled_reason", "created_at", "deleted_at"]
    list_filter = ["is_active", "disabled_reason"]
    search_fields = ["url", "id", "description"]
    # The secrets never reach a page unasked: the current one only through "Reveal secret"
    # (recorded in the history), the previous one never.
    exclude = ["secret", "previous_secret", "previous_secret_expires_at"]
    readonly_fields = [
        "id", "delivery_counts", "signing_secret", "previous_secret_state", "created_at", "updated_at", "deleted_at",
    ]
    actions = ["enable", "disable"]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # A new endpoint's id and secret are made when it is saved: the add page would show
        # values that the saved endpoint does not have.
        made_on_save = ("id", "signing_secret", "previous_secret_state")
        return fields if obj else [field for field in fields if field not in made_on_save]

    def get_urls(self):
        reveal = path(
            "<path:object_id>/reveal-secret/",
            self.admin_site.admin_view(self.reveal_secret_view),
            name="webhooks_webhookendpoint_reveal_secret",
        )
        return [reveal, *super().get_urls()]

    @admin.display(description="signing secret")
    def signing_secret(self, endpoint):
        url = reverse("admin:webhooks_webhookendpoint_reveal_secret", args=[quote(endpoint.pk)])
        return format_html('Hidden. <a href="{}">Reveal secret</a> (each reveal is recorded in the history)', url)

    @admin.display(description="previous secret")
    def previous_secret_state(self, endpoint):
        expires_at = endpoint.previous_secret_expires_at
        if not endpoint.previous_secret or expires_at is None:
            return "None"
        verb = "Signs too until" if timezone.now() < expires_at else "Stopped signing at"
        return f"{verb} {expires_at:%Y-%m-%d %H:%M:%S %Z} (not shown)"

    def reveal_secret_view(self, request, object_id):
        """GET asks to confirm; POST shows the secret and records who saw it."""
        endpoint = self.get_object(request, unquote(object_id))
        if endpoint is None:
            raise Http404("No webhook endpoint with this id.")
        if not self.has_change_permission(request, endpoint):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "endpoint": endpoint,
            "title": "Reveal the signing secret",
        }
        if request.method == "POST":
            self.log_change(request, endpoint, REVEAL_LOG_MESSAGE)
            context["secret"] = endpoint.secret
        return TemplateResponse(request, "admin/webhooks/webhookendpoint/reveal_secret.html", context)

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
