from django.core.management.base import BaseCommand

from bookings.models import Hub

from ._common import print_json


class Command(BaseCommand):
    help = "Create a hub (a group of businesses). Prints {id, name} as JSON."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        hub = Hub.objects.create(name=name)
        print_json(self, {"id": str(hub.id), "name": hub.name})
