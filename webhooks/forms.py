"""The admin's endpoint form, validated by the API's own fields: one set of rules."""

from django import forms
from rest_framework import serializers

from .event_types import ALL_EVENTS, EVENT_TYPES
from .models import WebhookEndpoint
from .serializers import EndpointUrlField, EventListField

EVENT_CHOICES = [
    *((name, f"{name}: {description}") for name, description in EVENT_TYPES.items()),
    (ALL_EVENTS, "*: every type, including ones added later"),
]


def api_validated(field: serializers.Field, value):
    """`value` as the API's `field` would take it, or the API's messages as a form error."""
    try:
        return field.run_validation(value)
    except serializers.ValidationError as exc:
        detail = exc.detail if isinstance(exc.detail, list) else [exc.detail]
        raise forms.ValidationError([str(message) for message in _flatten(detail)]) from exc


def _flatten(detail):
    for item in detail.values() if isinstance(detail, dict) else detail:
        yield from _flatten(item) if isinstance(item, (list, dict)) else [item]


class WebhookEndpointForm(forms.ModelForm):
    url = forms.CharField(max_length=EndpointUrlField().max_length, strip=False)
    events = forms.MultipleChoiceField(
        choices=EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="The event types this endpoint receives.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["business", "hub", "url", "events", "description", "is_active"]

    def clean_url(self):
        # Trimmed, checked and stored as the API stores it (the host name in ASCII).
        return api_validated(EndpointUrlField(), self.cleaned_data["url"])

    def clean_events(self):
        return api_validated(EventListField(), self.cleaned_data["events"])

    def clean(self):
        cleaned = super().clean()
        business, hub = cleaned.get("business"), cleaned.get("hub")
        if business and hub and business.hub_id != hub.pk:
            self.add_error("business", "This business does not belong to the hub.")
        return cleaned
