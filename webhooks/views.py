from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.response import Response

from calendence.openapi import ERROR_RESPONSES
from calendence.viewsets import TenantScopedViewSet

from . import services
from .models import WebhookEndpoint
from .permissions import HasWebhooksPlan
from .selectors import webhook_endpoints_visible_to
from .serializers import (
    WebhookEndpointCreatedSerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
)


@extend_schema_view(
    list=extend_schema(summary="List webhooks, newest first", responses={200: WebhookEndpointSerializer, **ERROR_RESPONSES}),
    retrieve=extend_schema(summary="Get a webhook", responses={200: WebhookEndpointSerializer, **ERROR_RESPONSES}),
    destroy=extend_schema(summary="Delete a webhook; nothing more is delivered to it", responses={204: None, **ERROR_RESPONSES}),
)
class WebhookEndpointViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    TenantScopedViewSet,
):
    permission_classes = [*TenantScopedViewSet.permission_classes, HasWebhooksPlan]
    model = WebhookEndpoint
    serializer_class = WebhookEndpointSerializer

    def scoped_queryset(self, api_key):
        return webhook_endpoints_visible_to(api_key)

    @extend_schema(
        summary="Register a webhook",
        request=WebhookEndpointCreateSerializer,
        responses={201: WebhookEndpointCreatedSerializer, **ERROR_RESPONSES},
    )
    def create(self, request, *args, **kwargs):
        serializer = WebhookEndpointCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        endpoint = services.webhook_endpoint_create(
            owner=request.auth,
            url=data["url"],
            events=data["events"],
            description=data.get("description", ""),
            business=data["business_id"],
        )
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.webhook_endpoint_delete(endpoint=instance)
