"""Webhook endpoints in the admin: edited through the same services and validation as the API.

The console (console/admin.py) adds what an operator reads across apps: each endpoint's
delivery health and links into its delivery log.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import ngettext

from . import services
from .forms import WebhookEndpointForm
from .models import WebhookEndpoint

REVEAL_LOG_MESSAGE = "Revealed the signing secret"
# What the change form may change, as PATCH /webhooks/{id} may.
UPDATABLE_FIELDS = ("url", "events", "description", "is_active")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "business", "is_active", "disabled_reason", "created_at"]
    list_filter = ["is_active", "disabled_reason"]
    search_fields = ["url", "id", "description", "business__name", "business__id", "hub__name"]
    list_select_related = ["business"]
    autocomplete_fields = ["business", "hub"]
    # The secrets never reach a page unasked: the current one only through "Reveal secret"
    # (recorded in the history), the previous one never.
    fields = [
        "id", "business", "hub", "url", "events", "description", "is_active", "disabled_reason", "disabled_at",
        "signing_secret", "previous_secret_state", "created_at", "updated_at", "deleted_at",
    ]
    readonly_fields = [
        "id", "disabled_reason", "disabled_at", "signing_secret", "previous_secret_state",
        "created_at", "updated_at", "deleted_at",
    ]
    actions = ["enable", "disable"]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # A new endpoint's id and secret are made when it is saved: the add page would show
        # values that the saved endpoint does not have.
        made_on_save = ("id", "signing_secret", "previous_secret_state", "disabled_reason", "disabled_at",
                        "created_at", "updated_at", "deleted_at")
        return fields if obj else [field for field in fields if field not in made_on_save]

    def get_readonly_fields(self, request, obj=None):
        # The owner is chosen once, as in the API.
        return [*self.readonly_fields, "business", "hub"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            saved = services.webhook_endpoint_register(
                business=data.get("business"), hub_id=data["hub"].pk if data.get("hub") else None,
                url=data["url"], events=data["events"], description=data.get("description", ""),
            )
            if not data.get("is_active", True):
                services.webhook_endpoint_update(endpoint=saved, is_active=False)
        else:
            # The form has already copied its values onto `obj`: the service compares with the stored row.
            stored = WebhookEndpoint.objects.get(pk=obj.pk)
            changes = {field: data[field] for field in form.changed_data if field in UPDATABLE_FIELDS}
            saved = services.webhook_endpoint_update(endpoint=stored, **changes)
        obj.pk = saved.pk  # what the services stored, for the history and the next page
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        services.webhook_endpoint_delete(endpoint=obj)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset.alive():
            services.webhook_endpoint_delete(endpoint=endpoint)

    def get_deleted_objects(self, objs, request):
        """Deleting an endpoint keeps its delivery log (as the API's DELETE does): the
        confirmation page lists the endpoints alone."""
        endpoints = list(objs)
        count = {WebhookEndpoint._meta.verbose_name_plural: len(endpoints)}
        return [str(endpoint) for endpoint in endpoints], count, set(), []

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
        return f"{verb} {timezone.localtime(expires_at):%Y-%m-%d %H:%M:%S %Z} (not shown)"

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

    @admin.action(description="Enable the selected webhooks (clears the disabled reason)", permissions=["change"])
    def enable(self, request, queryset):
        self._set_active(request, queryset, True)

    @admin.action(description="Disable the selected webhooks", permissions=["change"])
    def disable(self, request, queryset):
        self._set_active(request, queryset, False)

    def _set_active(self, request, queryset, is_active: bool):
        changed = [endpoint for endpoint in queryset.alive() if endpoint.is_active != is_active]
        for endpoint in changed:
            services.webhook_endpoint_update(endpoint=endpoint, is_active=is_active)
            self.log_change(request, endpoint, "Enabled" if is_active else "Disabled (reason: manual)")
        verb = "Enabled" if is_active else "Disabled"
        self.message_user(
            request,
            ngettext("%s %d webhook.", "%s %d webhooks.", len(changed)) % (verb, len(changed)),
            messages.SUCCESS,
        )
