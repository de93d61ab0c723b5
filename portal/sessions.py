"""The portal session: which business a browser may act for, and until when.

Opening a link replaces whatever session the browser had with us by a fresh one (a new
key, nothing carried over) that holds one business id and an absolute end: activity never
extends it past PORTAL_SESSION_SECONDS.
"""

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from bookings.models import Business

SESSION_KEY = "portal"


def portal_session_start(request: HttpRequest, business: Business) -> None:
    request.session.flush()
    ends_at = timezone.now() + timedelta(seconds=settings.PORTAL_SESSION_SECONDS)
    request.session[SESSION_KEY] = {"business_id": str(business.pk), "ends_at": ends_at.timestamp()}
    request.session.set_expiry(ends_at)


def portal_session_business(request: HttpRequest) -> Business | None:
    """The business of the request's live portal session, if it still has the webhooks plan."""
    portal = request.session.get(SESSION_KEY)
    if not portal or timezone.now().timestamp() >= portal["ends_at"]:
        return None
    business = Business.objects.filter(pk=portal["business_id"]).first()
    return business if business is not None and business.has_webhooks else None


def portal_session_end(request: HttpRequest) -> None:
    request.session.flush()
