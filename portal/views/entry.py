"""Getting in and out: a one-time link starts the session; signing out ends it."""

from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from ..links import portal_link_redeem
from ..security import portal_headers
from ..sessions import portal_session_end, portal_session_start


@require_GET
@portal_headers
def enter(request, token: str):
    """Redeem the link and go to a URL without its token (address bar, history, Referer)."""
    business = portal_link_redeem(token)
    if business is None:
        # Expired, used, forged or revoked: one answer, so a guess learns nothing.
        return render(request, "portal/link_invalid.html", status=403)
    portal_session_start(request, business)
    return redirect("portal:endpoints")


@require_POST
@portal_headers
def leave(request):
    portal_session_end(request)
    return render(request, "portal/signed_out.html")
