from django.utils.http import parse_header_parameters
from rest_framework import exceptions, viewsets
from rest_framework.request import is_form_media_type


class TenantScopedViewSet(viewsets.GenericViewSet):
    """Base of the API's viewsets: every query is scoped to the caller's API key.

    Subclasses name their `model` and implement `scoped_queryset(api_key)`; objects
    outside that scope are simply not found (404), never forbidden.
    """

    model = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation has no caller
            return self.model.objects.none()
        return self.scoped_queryset(self.request.auth)

    def scoped_queryset(self, api_key):
        raise NotImplementedError

    def validated(self, serializer_class, **kwargs) -> dict:
        """The request body checked by `serializer_class`; a 400 with field errors otherwise."""
        serializer = serializer_class(data=self.request_body(), context=self.get_serializer_context(), **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def request_body(self):
        """The JSON body. A form with nothing in it counts as no body: some clients send an
        empty multipart form for a POST without data (Django's test client does), and the
        calls whose body is optional must take it. Any other form is refused (415)."""
        request = self.request
        if is_form_media_type(request.content_type):
            if not _is_empty_form(request.content_type, request.body):  # the HttpRequest's, unparsed
                raise exceptions.UnsupportedMediaType(request.content_type)
            return {}
        return request.data


def _is_empty_form(content_type: str, body: bytes) -> bool:
    """No bytes, or a multipart form that is only its closing boundary."""
    _media_type, parameters = parse_header_parameters(content_type)
    boundary = parameters.get("boundary", "").encode()
    content = body.strip()
    return not content or (bool(boundary) and content == b"--" + boundary + b"--")
