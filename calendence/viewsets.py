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
        """The JSON body. A form with no fields counts as no body: some clients send one for a
        POST without data (Django's test client does), and the calls whose body is optional
        must take it. A form that carries fields is still refused (415): the API speaks JSON."""
        request = self.request
        if is_form_media_type(request.content_type):
            if request._request.POST or request._request.FILES:
                raise exceptions.UnsupportedMediaType(request.content_type)
            return {}
        return request.data
