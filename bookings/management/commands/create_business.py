from django.core.management.base import BaseCommand

from bookings.models import Business, Hub

from ._common import get_by_id, print_json


class Command(BaseCommand):
    help = "Create a business. Prints {id, name, plan} as JSON."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--plan", choices=Business.Plan.values, default=Business.Plan.GROWTH_PRO)
        parser.add_argument("--hub", help="Id of the hub the business belongs to.")

    def handle(self, *args, name, plan, hub, **options):
        hub_obj = get_by_id(Hub, hub, "hub") if hub else None
        business = Business.objects.create(name=name, plan=plan, hub=hub_obj)
        print_json(self, {"id": str(business.id), "name": business.name, "plan": business.plan})
