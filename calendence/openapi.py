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
