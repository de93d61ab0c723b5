"""Request-wide answers: oversized bodies refused, rate-limit headers, an unreachable database reported as 503."""

from django.conf import settings
from django.http import JsonResponse

from .errors import DATABASE_UNREACHABLE, database_unavailable, error_body


class RequestBodyLimitMiddleware:
    """413 with the JSON error body for a declared body over DATA_UPLOAD_MAX_MEMORY_SIZE.

    Django enforces the same limit when request.body is read; DRF's parsers read the
    stream instead, so the limit is checked here, once, for every request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            message = f"The request body is larger than the {limit // 1024} KiB limit."
            return JsonResponse(error_body("request_too_large", message), status=413)
        return self.get_response(request)


class RateLimitHeadersMiddleware:
    """X-RateLimit-Limit, -Remaining and -Reset on each answer to a call the API's throttle
    counted (calendence.throttling leaves the key's window on the request), a 429 included."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        window = getattr(request, "rate_limit", None)
        if window is not None:
            for name, value in window.headers().items():
                response[name] = value
        return response


class DatabaseUnavailableMiddleware:
    """503 JSON with Retry-After when a view outside DRF (admin, /metrics) cannot reach the database.

    process_exception runs before Django picks its 500 answer, so this holds with
    DEBUG=True too, where Django would otherwise show its HTML debug page. DRF views
    answer the same through calendence.errors.api_exception_handler.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_UNREACHABLE):
            return database_unavailable(request, exception)
        return None
