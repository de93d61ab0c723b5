"""`--count` bookings, one transaction each (autocommit), as the app would make them; a JSON line
with the first and last commit times and the CPU spent."""

import json
import secrets
import time
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from shop.models import Booking


class Command(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True)

    def handle(self, *args, count, **options):
        cpu_before, commits = time.process_time(), []
        starts = timezone.now() + timedelta(days=1)
        for number in range(count):
            Booking.objects.create(  # django-webhook's post_save signal queues fire_webhook here
                reference=secrets.token_hex(8), customer_name=f"Customer {number}",
                customer_email=f"customer{number}@example.com", service="Express Wash", location="Main Shop",
                starts_at=starts, ends_at=starts + timedelta(minutes=30),
            )
            commits.append(time.time())
        self.stdout.write(json.dumps({"count": count, "first_commit": commits[0] if commits else None,
                                      "last_commit": commits[-1] if commits else None,
                                      "cpu_seconds": round(time.process_time() - cpu_before, 2)}))
