"""Issuing and redeeming one-time portal links.

A link carries 32 random bytes; the database keeps their SHA-256 only (like API keys:
a high-entropy token needs no salt). Redeeming is one conditional UPDATE, so two
requests racing with the same link cannot both get in.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from bookings.models import Business

from .models import PortalLink

TOKEN_RANDOM_BYTES = 32
MAX_TOKEN_LENGTH = 64


@dataclass(frozen=True)
class IssuedLink:
    url: str
    expires_at: datetime


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def portal_link_issue(*, business: Business, base_url: str) -> IssuedLink:
    """A link into `business`'s portal, valid PORTAL_LINK_SECONDS and usable once.

    `base_url` is the service's origin (scheme and host) as the person opening the link reaches it.
    """
    token = secrets.token_urlsafe(TOKEN_RANDOM_BYTES)
    expires_at = timezone.now() + timedelta(seconds=settings.PORTAL_LINK_SECONDS)
    PortalLink.objects.create(business=business, token_hash=hash_token(token), expires_at=expires_at)
    path = reverse("portal:enter", kwargs={"token": token})
    return IssuedLink(url=f"{base_url.rstrip('/')}{path}", expires_at=expires_at)


def portal_link_redeem(token: str) -> Business | None:
    """The business the link opens, marking it used; None if it is unknown, used or expired,
    or its business has lost the webhooks plan since."""
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    now = timezone.now()
    unused = PortalLink.objects.filter(token_hash=hash_token(token), used_at__isnull=True, expires_at__gt=now)
    if unused.update(used_at=now) != 1:
        return None
    business = PortalLink.objects.select_related("business").get(token_hash=hash_token(token)).business
    return business if business.has_webhooks else None
