"""One-time links into a business's portal. Only a hash of each link's token is stored."""

from django.db import models

from bookings.models import Business


class PortalLink(models.Model):
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="portal_links")
    # SHA-256 of the token in the link: the database holds nothing that opens the portal.
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"portal link for {self.business_id} (until {self.expires_at:%Y-%m-%d %H:%M:%S})"
