from rest_framework.permissions import BasePermission


class HasWebhooksPlan(BasePermission):
    """Webhooks are a Growth Pro feature: other plans' business keys get 403."""

    message = "Webhooks are available on the Growth Pro plan; upgrade to use them."
    code = "plan_required"

    def has_permission(self, request, view):
        business = request.auth.business
        return business is None or business.has_webhooks
