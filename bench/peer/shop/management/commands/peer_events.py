"""django-webhook's own log: its WebhookEvent rows counted by status, as a JSON line."""

import json

from django.core.management.base import BaseCommand
from django.db.models import Count
from django_webhook.models import WebhookEvent


class Command(BaseCommand):
    def handle(self, *args, **options):
        rows = WebhookEvent.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n")
        self.stdout.write(json.dumps({"events_by_status": dict(rows)}))
