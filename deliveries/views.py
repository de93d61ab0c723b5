from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from calendence.openapi import ERROR_RESPONSES
from calendence.viewsets import TenantScopedViewSet
from webhooks.permissions import HasWebhooksPlan
from webhooks.selectors import webhook_endpoints_visible_to

from . import services
from .models import Delivery, DeliveryAttempt
from .selectors import deliveries_visible_to
from .serializers import DeliveryDetailSerializer, DeliveryFilterSerializer, DeliverySerializer

class DeliveryLogViewSet(TenantScopedViewSet):
    """Deliveries to the caller's webhooks, with their attempts in order."""

    permission_classes = [*TenantScopedViewSet.permission_classes, HasWebhooksPlan]
    model = Delivery

    def scoped_queryset(self, api_key):
        return deliveries_visible_to(api_key).prefetch_related(
            Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("number"))
        )


@extend_schema_view(
    list=extend_schema(
        summary="List a webhook's deliveries, newest first",
        parameters=[
            OpenApiParameter("status", str, enum=["pending", "succeeded", "failed"]),
            OpenApiParameter("event", str, description="An event type, e.g. booking.created"),
        ],
        responses={200: DeliverySerializer, **ERROR_RESPONSES},
    )
)
class WebhookDeliveryViewSet(mixins.ListModelMixin, DeliveryLogViewSet):
    """GET /webhooks/{webhook_id}/deliveries"""

    serializer_class = DeliverySerializer

    def scoped_queryset(self, api_key):
        endpoint = get_object_or_404(webhook_endpoints_visible_to(api_key), pk=self.kwargs["webhook_id"])
        filters = DeliveryFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        deliveries = super().scoped_queryset(api_key).filter(endpoint=endpoint)
        if "status" in filters.validated_data:
            deliveries = deliveries.filter(status=filters.validated_data["status"])
        if "event" in filters.validated_data:
            deliveries = deliveries.filter(event__type=filters.validated_data["event"])
        return deliveries


@extend_schema_view(
    retrieve=extend_schema(summary="Get a delivery with its attempts", responses={200: DeliveryDetailSerializer, **ERROR_RESPONSES})
)
class DeliveryViewSet(mixins.RetrieveModelMixin, DeliveryLogViewSet):
    """GET /deliveries/{id}, POST /deliveries/{id}/redeliver"""

    serializer_class = DeliveryDetailSerializer

    @extend_schema(
        summary="Redeliver: a fresh series of attempts for the same event and delivery id",
        request=None,
        responses={202: DeliverySerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def redeliver(self, request, pk=None):
        delivery = services.delivery_redeliver(delivery=self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
