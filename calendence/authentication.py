"""`Authorization: Bearer <key>` for the REST API."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from bookings.api_keys import api_key_authenticate

# One answer for a missing, malformed, unknown or revoked key: a caller learns
# nothing about which keys exist.
INVALID_KEY = _("A valid API key is required: send 'Authorization: Bearer <key>'.")


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not key.strip():
            raise exceptions.AuthenticationFailed(INVALID_KEY, code="invalid_api_key")
        api_key = api_key_authenticate(key.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed(INVALID_KEY, code="invalid_api_key")
        return api_key, api_key

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A business key (cal_biz_…) or a hub key (cal_hub_…).",
        }
