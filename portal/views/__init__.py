"""The portal's pages: thin views over portal.selectors, the API's serializers (portal.forms)
and the services the API calls."""

from django.shortcuts import render


def page(request, template: str, context: dict | None = None, *, status: int = 200):
    """Render a portal page for the session's business."""
    return render(request, template, {"business": request.portal_business, **(context or {})}, status=status)
