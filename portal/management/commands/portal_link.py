import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bookings.management.commands._common import get_by_id, print_json
from bookings.models import Business
from portal.links import portal_link_issue


class Command(BaseCommand):
    help = "A one-time link into a business's portal. Prints {url, expires_at}."

    def add_arguments(self, parser):
        parser.add_argument("--business", required=True, help="Business id.")

    def handle(self, *args, business, **options):
        business = get_by_id(Business, business, "business")
        if not business.has_webhooks:
            raise CommandError(f"The business is on the {business.plan} plan; the portal needs growth_pro.")
        base_url = settings.PORTAL_BASE_URL or f"http://127.0.0.1:{os.environ.get('PORT') or 8000}"
        link = portal_link_issue(business=business, base_url=base_url)
        print_json(self, {"url": link.url, "expires_at": link.expires_at.isoformat()})
