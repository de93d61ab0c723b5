"""OpenAPI pieces shared by every view: the error body and the errors each call can answer."""

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorDetail",
            fields={
                "code": serializers.CharField(help_text="snake_case, stable: branch on this."),
                "message": serializers.CharField(help_text="For humans; may change."),
                "fields": serializers.DictField(
                    child=serializers.ListField(child=serializers.CharField()),
                    required=False,
                    help_text="Validation errors (400 only): field name -> messages.",
                ),
            },
        )
    },
)


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=description)


ERROR_RESPONSES = {
    400: error("Invalid body: malformed JSON or a field that failed validation."),
    401: error("Missing, malformed, unknown or revoked API key."),
    403: error("The key may not use this call (plan or key type)."),
    404: error("No such object for this key (other tenants' objects are 404 too)."),
}
CONFLICT_RESPONSE = {409: error("The booking's status does not allow this change.")}


def add_common_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: the errors any API call can meet, documented once.

    Every call can be rate limited (429) and can meet a database outage (503); a call
    with a body can also meet 413 (over 1 MiB) and 415 (not JSON).
    """
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    common = {
        "429": "Too many calls with this API key in its current window (throttled); retry after Retry-After seconds.",
        "503": "The database cannot be reached (service_unavailable); retry after Retry-After seconds.",
    }
    with_body = {"413": "The request body is over 1 MiB.", "415": "The body is not application/json."}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            extra = {**common, **(with_body if "requestBody" in operation else {})}
            for code, description in extra.items():
                operation["responses"].setdefault(code, {"description": description, "content": error_ref})
    return result
