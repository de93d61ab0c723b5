from django.core.management.base import BaseCommand

from bookings.api_keys import api_key_issue
from bookings.models import Business, Hub

from ._common import get_by_id, print_json


class Command(BaseCommand):
    help = "Issue an API key for a business or a hub. Prints {id, key}; the key is shown only this once."

    def add_arguments(self, parser):
        owner = parser.add_mutually_exclusive_group(required=True)
        owner.add_argument("--business", help="Business id.")
        owner.add_argument("--hub", help="Hub id.")
        parser.add_argument("--name", default="", help="A label to recognise the key by.")

    def handle(self, *args, business, hub, name, **options):
        if business:
            issued = api_key_issue(business=get_by_id(Business, business, "business"), name=name)
        else:
            issued = api_key_issue(hub=get_by_id(Hub, hub, "hub"), name=name)
        print_json(self, {"id": str(issued.api_key.id), "key": issued.key})
