from django.core.management.base import BaseCommand

from bookings.management.commands._common import print_json
from webhooks.services import webhook_secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every webhook signing secret with the first key of WEBHOOK_SECRETS_KEY "
        "(after putting a new key in front). Prints {reencrypted: n}."
    )

    def handle(self, *args, **options):
        print_json(self, {"reencrypted": webhook_secrets_reencrypt()})
