from rest_framework import viewsets


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
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context(), **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
