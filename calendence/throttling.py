"""Rate limiting per API key (not per IP: many businesses can share one egress address)."""

from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_cache_key(self, request, view):
        if request.auth is None:
            return None  # unauthenticated requests never get this far on the API
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
