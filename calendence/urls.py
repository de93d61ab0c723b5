from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from console.views import overview

from . import errors, health

api_v1 = [
    path("", include("bookings.urls")),
    path("", include("webhooks.urls")),
    path("", include("deliveries.urls")),
    path("", include("portal.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Its own template: drf-spectacular's links Google Fonts; ours loads nothing from elsewhere.
    path("docs/", SpectacularRedocView.as_view(url_name="schema", template_name="api_docs/redoc.html"), name="docs"),
    # Unknown API paths answer the JSON error body even in development (DEBUG's 404 page
    # is HTML), whatever the method (no CSRF check: API calls carry no cookie).
    re_path(r"^.*$", csrf_exempt(errors.not_found)),
]

urlpatterns = [
    # The console's overview, inside the admin (its login, its look); linked from the admin index.
    path("admin/overview/", admin.site.admin_view(overview), name="console-overview"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("portal/", include("portal.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
]

handler400 = "calendence.errors.bad_request"
handler404 = "calendence.errors.not_found"
handler500 = "calendence.errors.server_error"
