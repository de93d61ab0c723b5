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
    return JsonResponse(
        error_body("server_error", "Something went wrong on our side; it has been logged."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


class Conflict(exceptions.APIException):
    """The object's current state does not allow the change."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The object's current state does not allow this change."
