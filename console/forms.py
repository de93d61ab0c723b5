from datetime import timedelta

from django import forms
from django.utils import timezone


def yesterday() -> str:
    return (timezone.localtime() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")


class RecoverSinceForm(forms.Form):
    """"Recover failed since": the time from which failed deliveries are redelivered."""

    since = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        initial=yesterday,
        help_text="In the server's time zone. Every failed delivery created since then is redelivered.",
    )
