from django.core.management.base import BaseCommand

from bookings.api_keys import api_key_issue
from bookings.models import Business

DEMO_NAME = "Demo Business"


class Command(BaseCommand):
    help = "Create the demo business (Growth Pro) and print its API key, unless it exists already."

    def handle(self, *args, **options):
        existing = Business.objects.filter(name=DEMO_NAME).first()
        if existing is not None:
            self.stdout.write(
                f"Demo business exists (id {existing.id}). Its key was printed when it was created; "
                f"for a new one: .venv/bin/python manage.py create_api_key --business {existing.id}"
            )
            return
        business = Business.objects.create(name=DEMO_NAME, plan=Business.Plan.GROWTH_PRO)
        issued = api_key_issue(business=business, name="demo")
        self.stdout.write(
            f"Created the demo business (id {business.id}, plan growth_pro).\n"
            f"Its API key, shown only this once:\n\n    {issued.key}\n"
        )
