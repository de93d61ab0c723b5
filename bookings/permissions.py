from rest_framework.permissions import BasePermission


class IsBusinessKey(BasePermission):
    """Bookings, services and locations belong to one business: hub keys get 403."""

    message = "This endpoint needs a business API key (cal_biz_…), not a hub key."
    code = "business_key_required"

    def has_permission(self, request, view):
        return request.auth.business_id is not None
