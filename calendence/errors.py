"""One JSON error shape for every error the API returns.

    {"error": {"code": "<snake_case>", "message": "<human text>", "fields": {...}}}

`fields` appears only on validation errors (400).
"""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

logger = logging.getLogger(__name__)

VALIDATION_MESSAGE = "The request is not valid; see fields for details."

# What an unreachable database raises: refused or timed-out connects, a server that closed
# the connection or is shutting down. DataError and IntegrityError are bugs or bad data
# (500), not an outage; they are DatabaseError's other subclasses and stay out of this.
DATABASE_UNREACHABLE = (OperationalError, InterfaceError)
# Long enough for a failover or restart to make progress, short enough to retry soon.
DATABASE_RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE_MESSAGE = "The service cannot reach its database; retry after a few seconds."

# DRF's default codes, renamed where a clearer one helps the reader of the error.
CODE_NAMES = {
    "parse_error": "malformed_json",
    "not_authenticated": "invalid_api_key",
    "authentication_failed": "invalid_api_key",
}


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    error = {"code": code, "message": message}
    if fields is not None:
        error["fields"] = fields
    return {"error": error}


def api_exception_handler(exc, context):
    if isinstance(exc, DATABASE_UNREACHABLE):
        set_rollback()
        log_database_unreachable(context["request"], exc)
        return Response(
            error_body("service_unavailable", DATABASE_UNAVAILABLE_MESSAGE),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers=database_retry_headers(),
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handler answers
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body("validation_error", VALIDATION_MESSAGE, flatten_fields(exc.detail))
    else:
        response.data = error_body(_code_of(exc), _message_of(exc))
    return response


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    return CODE_NAMES.get(code, code)


def _message_of(exc: exceptions.APIException) -> str:
    detail = exc.detail
    if isinstance(detail, list) and detail:
        detail = detail[0]
    return str(detail)


def flatten_fields(detail) -> dict[str, list[str]]:
    """DRF's error detail keyed by top-level field, nested paths folded into the messages.

    {"client": {"email": ["Enter a valid email address."]}} becomes
    {"client": ["email: Enter a valid email address."]}; errors about the body as a
    whole go under "non_field_errors".
    """
    if not isinstance(detail, dict):
        return {"non_field_errors": _messages(detail)}
    return {str(name): _messages(value) for name, value in detail.items()}


def _messages(detail, path: str = "") -> list[str]:
    if isinstance(detail, dict):
        return [m for key, value in detail.items() for m in _messages(value, _join(path, key))]
    if isinstance(detail, list):
        return [m for index, item in enumerate(detail) for m in _messages(item, _item_path(path, index, item))]
    return [f"{path}: {detail}" if path else str(detail)]


def _join(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)


def _item_path(path: str, index: int, item) -> str:
    # A list of plain messages is just several messages; a list of nested errors is indexed.
    return _join(path, index) if isinstance(item, (dict, list)) else path


# Django-level handlers, for what never reaches a DRF view (a request Django itself refuses,
# such as one for a host name not in ALLOWED_HOSTS; an unknown path; a crash).
def bad_request(request, exception=None):
    return JsonResponse(
        error_body("bad_request", "The request could not be understood."), status=status.HTTP_400_BAD_REQUEST
    )


def not_found(request, exception=None):
    return JsonResponse(error_body("not_found", "No such resource."), status=status.HTTP_404_NOT_FOUND)


def server_error(request):
    # Django calls this inside its `except` block: an outage that escaped the other
    # handlers (a middleware's own query, say) is still a 503, not a crash.
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_UNREACHABLE):
        return database_unavailable(request, exc)
    return JsonResponse(
        error_body("server_error", "Something went wrong on our side; it has been logged."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def database_unavailable(request, exc: Exception) -> JsonResponse:
    """503 service_unavailable with Retry-After, for a request that failed to reach the database."""
    log_database_unreachable(request, exc)
    response = JsonResponse(
        error_body("service_unavailable", DATABASE_UNAVAILABLE_MESSAGE), status=status.HTTP_503_SERVICE_UNAVAILABLE
    )
    for name, value in database_retry_headers().items():
        response[name] = value
    return response


def database_retry_headers() -> dict[str, str]:
    return {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}


def log_database_unreachable(request, exc: Exception) -> None:
    # One line, no traceback: an outage fails every request alike and the trace says nothing new.
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    logger.warning("Database unreachable; %s %s answered 503: %s", request.method, request.path, first_line[:200])


class Conflict(exceptions.APIException):
    """The object's current state does not allow the change."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The object's current state does not allow this change."
