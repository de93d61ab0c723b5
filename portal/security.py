"""What every portal page answers with besides its content, and who may see it.

- Referrer-Policy: `no-referrer` on the entry link's answers (the only URL that holds a token), and
  `same-origin` on the pages: no portal URL leaves for another site. Not `no-referrer` there: with it,
  browsers send `Origin: null` on form posts, which Django's CSRF check rightly refuses.
- `Cache-Control: no-store`: pages show secrets and receivers' data; no shared or back-button copy.
- A Content-Security-Policy that runs no script and loads nothing from elsewhere, and whose
  `frame-ancestors` lets only PORTAL_FRAME_ANCESTORS embed the portal ('none' by default).
"""

from functools import wraps

from django.conf import settings
from django.http import Http404
from django.shortcuts import render

from .sessions import portal_session_business

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
    "frame-ancestors {ancestors}"
)


def portal_headers(view, *, referrer_policy: str = "no-referrer"):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        ancestors = settings.PORTAL_FRAME_ANCESTORS
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.format(
            ancestors=" ".join(ancestors) if ancestors else "'none'"
        )
        # X-Frame-Options cannot name origins: with ancestors configured, CSP alone decides.
        response.xframe_options_exempt = bool(ancestors)
        response["Referrer-Policy"] = referrer_policy
        response["Cache-Control"] = "no-store"
        return response

    return wrapped


def portal_session_required(view):
    """The view runs for a live portal session only, with `request.portal_business` set.
    What is not the business's own (Http404) gets the portal's 404 page, not the API's JSON."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        business = portal_session_business(request)
        if business is None:
            return render(request, "portal/session_ended.html", status=403)
        request.portal_business = business
        try:
            return view(request, *args, **kwargs)
        except Http404:
            return render(request, "portal/not_found.html", {"business": business}, status=404)

    return portal_headers(wrapped, referrer_policy="same-origin")
