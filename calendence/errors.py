"""One JSON error shape for every error the API returns.

    {"error": {"code": "<snake_case>", "message": "<human text>", "fields": {...}}}

`fields` appears only on validation errors (400).
"""

from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.views import exception_handler

VALIDATION_MESSAGE = "The request is not valid; see fields for details."

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


def flatten_fields(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"client.email": ["..."]}; list-level errors under "non_field_errors"."""
    if isinstance(detail, dict):
        fields: dict[str, list[str]] = {}
        for name, value in detail.items():
            fields.update(flatten_fields(value, f"{prefix}.{name}" if prefix else str(name)))
        return fields
    if isinstance(detail, list) and any(isinstance(item, (dict, list)) for item in detail):
        fields = {}
        for index, item in enumerate(detail):
            if item:
                fields.update(flatten_fields(item, f"{prefix}[{index}]" if prefix else str(index)))
        return fields
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(message) for message in messages]}


# Django-level handlers, for what never reaches a DRF view (an unknown path, a crash).
def not_found(request, exception=None):
    return JsonResponse(error_body("not_found", "No such resource."), status=status.HTTP_404_NOT_FOUND)


def server_error(request):
    return JsonResponse(
        error_body("server_error", "Something went wrong on our side; it has been logged."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


class Conflict(exceptions.APIException):
    """The object's current state does not allow the change."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The object's current state does not allow this change."
