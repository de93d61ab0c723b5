"""One webhook at `--url`, subscribed to bookings being created, signed with `--secret`
(as django-webhook's quickstart makes one, through its models)."""

import json

from django.core.management.base import BaseCommand
from django_webhook.models import Webhook, WebhookSecret, WebhookTopic


class Command(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("--url", required=True)
        parser.add_argument("--secret", required=True)

    def handle(self, *args, url, secret, **options):
        webhook = Webhook.objects.create(url=url)
        webhook.topics.set([WebhookTopic.objects.get(name="shop.Booking/create")])
        WebhookSecret.objects.create(webhook=webhook, token=secret)
        self.stdout.write(json.dumps({"webhook": webhook.id, "uuid": str(webhook.uuid)}))
