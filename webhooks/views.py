from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from calendence.openapi import ERROR_RESPONSES
from calendence.viewsets import TenantScopedViewSet

from . import event_types, services
from .models import WebhookEndpoint
from .permissions import HasWebhooksPlan
from .selectors import webhook_endpoints_visible_to
from .serializers import (
    EventTypeSerializer,
    RotateSecretSerializer,
    SecretSerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateSerializer,
)

REGISTER_EXAMPLE = OpenApiExample(
    "Register",
    request_only=True,
    value={"url": "https://example.com/webhooks/calendence", "events": ["booking.created", "booking.cancelled"]},
)
WEBHOOK = {
    "id": "5b0e7c1a-3f2d-4c8e-9a61-7d2f0b4e8c13",
    "url": "https://example.com/webhooks/calendence",
    "events": ["booking.created", "booking.cancelled"],
    "description": "",
    "is_active": True,
    "disabled_reason": None,
    "business_id": "8d78a9e0-bca0-4fe8-9b7a-7ef35e42667c",
    "hub_id": None,
    "created_at": "2026-03-24T14:30:00Z",
}
SECRET = "whsec_f5KQxPNZfKS0VvsSAsngouw0ziBoWKFywzu6gc6gWYg="
WEBHOOK_EXAMPLE = OpenApiExample("A webhook", response_only=True, value=WEBHOOK)


@extend_schema_view(
    list=extend_schema(
        summary="List webhooks, newest first",
        responses={200: WebhookEndpointSerializer, **ERROR_RESPONSES},
        examples=[WEBHOOK_EXAMPLE],  # wrapped in a page
    ),
    retrieve=extend_schema(
        summary="Get a webhook",
        responses={200: WebhookEndpointSerializer, **ERROR_RESPONSES},
        examples=[WEBHOOK_EXAMPLE],
    ),
    destroy=extend_schema(
        summary="Delete a webhook; nothing more is delivered to it", responses={204: None, **ERROR_RESPONSES}
    ),
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
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def scoped_queryset(self, api_key):
        endpoints = webhook_endpoints_visible_to(api_key)
        if self.action in ("list", "retrieve"):  # answers without the secrets: no decrypting them per row
            return endpoints.defer(*WebhookEndpoint.SECRET_FIELDS)
        return endpoints

    @extend_schema(
        summary="Register a webhook",
        request=WebhookEndpointCreateSerializer,
        responses={201: WebhookEndpointCreatedSerializer, **ERROR_RESPONSES},
        examples=[
            REGISTER_EXAMPLE,
            OpenApiExample("Registered", response_only=True, status_codes=["201"], value={**WEBHOOK, "secret": SECRET}),
        ],
    )
    def create(self, request, *args, **kwargs):
        data = self.validated(WebhookEndpointCreateSerializer)
        endpoint = services.webhook_endpoint_create(
            owner=request.auth,
            url=data["url"],
            events=data["events"],
            description=data.get("description", ""),
            business=data["business_id"],
        )
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a webhook (url, events, description, is_active); enabling clears disabled_reason",
        request=WebhookEndpointUpdateSerializer,
        responses={200: WebhookEndpointSerializer, **ERROR_RESPONSES},
        examples=[OpenApiExample("Re-enable", request_only=True, value={"is_active": True}), WEBHOOK_EXAMPLE],
    )
    def partial_update(self, request, *args, **kwargs):
        endpoint = self.get_object()
        changes = self.validated(WebhookEndpointUpdateSerializer, instance=endpoint, partial=True)
        endpoint = services.webhook_endpoint_update(endpoint=endpoint, **changes)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        summary="Rotate the signing secret; the previous one keeps signing for grace_seconds",
        request=RotateSecretSerializer,
        responses={200: SecretSerializer, **ERROR_RESPONSES},
        examples=[
            OpenApiExample("One hour of overlap", request_only=True, value={"grace_seconds": 3600}),
            OpenApiExample("The new secret", response_only=True, value={"secret": SECRET}),
        ],
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        data = self.validated(RotateSecretSerializer)
        endpoint = services.webhook_endpoint_rotate_secret(
            endpoint=self.get_object(), grace_seconds=data["grace_seconds"]
        )
        return Response({"secret": endpoint.secret})

    def perform_destroy(self, instance):
        services.webhook_endpoint_delete(endpoint=instance)


class EventTypeListView(APIView):
    """GET /event-types: the catalog, with each body's JSON Schema and an example."""

    @extend_schema(
        summary="List event types with their JSON Schema and an example",
        responses={
            200: inline_serializer("EventTypeList", {"results": EventTypeSerializer(many=True)}),
            **ERROR_RESPONSES,
        },
        examples=[OpenApiExample("The catalog", response_only=True, value={"results": event_types.catalog()[:1]})],
    )
    def get(self, request):
        return Response({"results": event_types.catalog()})
