from django.core.management.base import BaseCommand

from bookings.api_keys import api_key_revoke
from bookings.models import ApiKey

from ._common import get_by_id, print_json


class Command(BaseCommand):
    help = "Revoke an API key by its id. Prints {id, revoked: true}."

    def add_arguments(self, parser):
        parser.add_argument("key_id")

    def handle(self, *args, key_id, **options):
        api_key = api_key_revoke(api_key=get_by_id(ApiKey, key_id, "API key"))
        print_json(self, {"id": str(api_key.id), "revoked": True})
