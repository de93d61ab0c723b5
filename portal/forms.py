"""The portal's forms. Those that change something are judged by the API's own serializers:
the same rules and the same messages as the API, in one place."""

from django import forms

from calendence.errors import flatten_fields
from deliveries.models import Delivery
from deliveries.serializers import RecoverSerializer, TestEventSerializer
from webhooks.event_types import ALL_EVENTS, EVENT_TYPES
from webhooks.serializers import (
    RotateSecretSerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointUpdateSerializer,
)
from webhooks.url_policy import MAX_URL_LENGTH

EVENT_CHOICES = [(name, name) for name in EVENT_TYPES] + [(ALL_EVENTS, "All, including future types")]
GRACE_CHOICES = [
    (0, "None: the old secret stops now"),
    (3600, "1 hour"),
    (24 * 3600, "24 hours"),
    (7 * 24 * 3600, "7 days"),
]
DATETIME_LOCAL = forms.DateTimeInput(attrs={"type": "datetime-local", "step": 1}, format="%Y-%m-%dT%H:%M:%S")


class ApiCheckedForm(forms.Form):
    """A form whose data the API's serializer `serializer_class` validates; its messages become the
    form's errors, and `validated_data` holds what the service is called with."""

    serializer_class = None

    def __init__(self, *args, instance=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.validated_data: dict = {}

    def clean(self):
        serializer = self.serializer_class(
            instance=self.instance, data=self.serializer_data(), partial=self.instance is not None
        )
        if serializer.is_valid():
            self.validated_data = serializer.validated_data
            return self.cleaned_data
        for field, messages in flatten_fields(serializer.errors).items():
            if field not in self.errors:  # the form's own check said it already
                self.add_error(field if field in self.fields else None, messages)
        return self.cleaned_data

    def serializer_data(self) -> dict:
        return {name: self.data.get(name, "") for name in self.fields}


class EventCheckboxes(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def validate(self, value):
        pass  # the API's serializer judges the list (unknown types, empty, duplicates)


class EndpointForm(ApiCheckedForm):
    serializer_class = WebhookEndpointCreateSerializer

    url = forms.CharField(
        label="URL", required=False, strip=False,
        widget=forms.URLInput(attrs={"maxlength": MAX_URL_LENGTH, "placeholder": "https://example.com/webhooks"}),
    )
    events = EventCheckboxes(label="Event types", choices=EVENT_CHOICES, required=False)
    description = forms.CharField(required=False, widget=forms.TextInput(attrs={"maxlength": 500}))

    def serializer_data(self) -> dict:
        return {**super().serializer_data(), "events": self.data.getlist("events")}


class EndpointEditForm(EndpointForm):
    serializer_class = WebhookEndpointUpdateSerializer


class RotateSecretForm(ApiCheckedForm):
    serializer_class = RotateSecretSerializer

    grace_seconds = forms.TypedChoiceField(
        label="Keep the old secret signing too for", choices=GRACE_CHOICES, coerce=int, initial=24 * 3600
    )


class TestEventForm(ApiCheckedForm):
    serializer_class = TestEventSerializer

    event = forms.ChoiceField(label="Event type", choices=[(name, name) for name in EVENT_TYPES])


class RecoverForm(ApiCheckedForm):
    serializer_class = RecoverSerializer

    since = forms.CharField(label="Failed since (UTC)", widget=DATETIME_LOCAL)


class DeliveryFilterForm(forms.Form):
    """The delivery log's filters (reads only). Empty fields filter nothing."""

    status = forms.ChoiceField(required=False, choices=[("", "Any"), *Delivery.Status.choices])
    event = forms.ChoiceField(label="Event type", required=False, choices=[("", "Any"), *EVENT_CHOICES[:-1]])
    since = forms.DateTimeField(label="From (UTC)", required=False, widget=DATETIME_LOCAL)
    until = forms.DateTimeField(label="Until (UTC)", required=False, widget=DATETIME_LOCAL)
    event_id = forms.CharField(label="Event id", required=False, max_length=40,
                               widget=forms.TextInput(attrs={"placeholder": "evt_…"}))
