from contextlib import contextmanager

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from calendence.errors import Conflict
from calendence.openapi import ERROR_RESPONSES, error
from calendence.viewsets import TenantScopedViewSet
from webhooks.event_types import example_body
from webhooks.models import WebhookEndpoint
from webhooks.permissions import HasWebhooksPlan
from webhooks.selectors import webhook_endpoints_visible_to

from . import selectors, services
from .models import Delivery, DeliveryAttempt
from .selectors import deliveries_visible_to
from .serializers import (
    DeliveryDetailSerializer,
    DeliveryFilterSerializer,
    DeliverySerializer,
    RecoverSerializer,
    StatsQuerySerializer,
    TestEventSerializer,
    WebhookStatsSerializer,
)

DELIVERY = {
    "id": "dlv_2f7b5058456a6ead20d6799c7bc58fb0",
    "event_id": "evt_07378604f756de0cb1f796ed05158e1c",
    "event": "booking.cancelled",
    "webhook_id": "5b0e7c1a-3f2d-4c8e-9a61-7d2f0b4e8c13",
    "status": "failed",
    "attempts": [
        {
            "number": 1,
            "status_code": 503,
            "error": None,
            "error_detail": "",
            "duration_ms": 41,
            "queued_ms": 2,
            "started_at": "2026-03-24T14:30:01Z",
            "finished_at": "2026-03-24T14:30:01Z",
        }
    ],
    "next_attempt_at": None,
    "created_at": "2026-03-24T14:30:00Z",
    "completed_at": "2026-03-24T14:33:02Z",
}
DELIVERY_DETAIL = {
    **DELIVERY,
    "attempts": [{
        **DELIVERY["attempts"][0],
        "request_headers": {
            "Content-Type": "application/json",
            "User-Agent": "Calendence-Webhooks/1.0.0",
            "X-Calendence-Signature": "sha256=5d1c0b0e4f1a7c2e9b3d8f6a0c4e2b7d9f1a3c5e7b9d0f2a4c6e8b0d2f4a6c8e",
            "X-Calendence-Event": "booking.cancelled",
            "X-Calendence-Event-Id": "evt_07378604f756de0cb1f796ed05158e1c",
            "X-Calendence-Delivery-Id": "dlv_2f7b5058456a6ead20d6799c7bc58fb0",
            "X-Calendence-Attempt": "1",
            "webhook-id": "evt_07378604f756de0cb1f796ed05158e1c",
            "webhook-timestamp": "1774362601",
            "webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
        },
        "response_headers": {"Content-Type": "text/plain", "Content-Length": "19"},
        "response_body": "Service Unavailable",
    }],
    "payload": example_body("booking.cancelled"),
}

WEBHOOK_PERMISSIONS = [*TenantScopedViewSet.permission_classes, HasWebhooksPlan]
DISABLED_RESPONSE = {409: error("The webhook is disabled: enable it first (PATCH is_active: true).")}


@contextmanager
def refusals_as_conflicts():
    """A delivery action the state does not allow answers 409 with the refusal's code."""
    try:
        yield
    except services.ActionRefused as refused:
        raise Conflict(str(refused), code=refused.code) from refused


class DeliveryLogViewSet(TenantScopedViewSet):
    """Deliveries to the caller's webhooks, with their attempts in order."""

    permission_classes = WEBHOOK_PERMISSIONS
    model = Delivery

    def scoped_queryset(self, api_key):
        return deliveries_visible_to(api_key).prefetch_related(
            Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("number"))
        )


@extend_schema_view(
    list=extend_schema(
        summary="List a webhook's deliveries, newest first",
        examples=[OpenApiExample("A delivery", response_only=True, value=DELIVERY)],  # wrapped in a page
        parameters=[
            OpenApiParameter("status", str, enum=["pending", "succeeded", "failed"]),
            OpenApiParameter("event", str, description="An event type, e.g. booking.created"),
        ],
        responses={200: DeliverySerializer, **ERROR_RESPONSES},
    )
)
class WebhookDeliveryViewSet(mixins.ListModelMixin, DeliveryLogViewSet):
    """/webhooks/{webhook_id}/deliveries, /test and /recover: the delivery side of one webhook."""

    serializer_class = DeliverySerializer

    def scoped_queryset(self, api_key):
        filters = DeliveryFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        deliveries = super().scoped_queryset(api_key).filter(endpoint=self._endpoint())
        if "status" in filters.validated_data:
            deliveries = deliveries.filter(status=filters.validated_data["status"])
        if "event" in filters.validated_data:
            deliveries = deliveries.filter(event__type=filters.validated_data["event"])
        return deliveries

    @extend_schema(
        summary="Send a signed sample event (\"test\": true) to the webhook",
        request=TestEventSerializer,
        responses={
            202: inline_serializer("TestEventSent", {"delivery_id": serializers.CharField()}),
            **ERROR_RESPONSES,
            **DISABLED_RESPONSE,
        },
        examples=[
            OpenApiExample("A cancellation", request_only=True, value={"event": "booking.cancelled"}),
            OpenApiExample("Sent", response_only=True, status_codes=["202"], value={"delivery_id": DELIVERY["id"]}),
        ],
    )
    def send_test(self, request, webhook_id=None):
        data = self.validated(TestEventSerializer)
        endpoint = self._endpoint()
        with refusals_as_conflicts():
            services.endpoint_require_active(endpoint)
        delivery = services.event_send_test(endpoint=endpoint, event_type=data["event"])
        return Response({"delivery_id": delivery.id}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Redeliver every failed delivery to the webhook since a time",
        request=RecoverSerializer,
        responses={
            202: inline_serializer("Recovered", {"redelivered": serializers.IntegerField()}),
            **ERROR_RESPONSES,
            **DISABLED_RESPONSE,
        },
        examples=[
            OpenApiExample("Since yesterday", request_only=True, value={"since": "2026-03-24T00:00:00+00:00"}),
            OpenApiExample("Two failed deliveries", response_only=True, status_codes=["202"], value={"redelivered": 2}),
        ],
    )
    def recover(self, request, webhook_id=None):
        data = self.validated(RecoverSerializer)
        endpoint = self._endpoint()
        with refusals_as_conflicts():
            services.endpoint_require_active(endpoint)
        count = services.deliveries_recover(endpoint=endpoint, since=data["since"])
        return Response({"redelivered": count}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="A webhook's health: deliveries by status, success rate, latest outcomes, hourly buckets",
        parameters=[OpenApiParameter("since", OpenApiTypes.DATETIME, description="Default: 24 hours ago.")],
        responses={200: WebhookStatsSerializer, **ERROR_RESPONSES},
    )
    def stats(self, request, webhook_id=None):
        query = StatsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        default_since, until = selectors.health_window()
        since = query.validated_data.get("since", default_since)
        stats = selectors.webhook_endpoint_stats(self._endpoint().pk, since=since, until=until)
        return Response(WebhookStatsSerializer(stats).data)

    def _endpoint(self) -> WebhookEndpoint:
        return get_object_or_404(webhook_endpoints_visible_to(self.request.auth), pk=self.kwargs["webhook_id"])


@extend_schema_view(
    retrieve=extend_schema(
        summary="Get a delivery with its attempts",
        responses={200: DeliveryDetailSerializer, **ERROR_RESPONSES},
        examples=[OpenApiExample("A failed delivery", response_only=True, value=DELIVERY_DETAIL)],
    )
)
class DeliveryViewSet(mixins.RetrieveModelMixin, DeliveryLogViewSet):
    """GET /deliveries/{id}, POST /deliveries/{id}/redeliver"""

    serializer_class = DeliveryDetailSerializer

    @extend_schema(
        summary="Redeliver: a fresh series of attempts for the same event and delivery id",
        request=None,
        responses={
            202: DeliverySerializer,
            **ERROR_RESPONSES,
            409: error("The delivery is still pending, or its webhook is disabled."),
        },
        examples=[
            OpenApiExample(
                "A fresh series",
                response_only=True,
                status_codes=["202"],
                value={
                    **DELIVERY, "status": "pending", "next_attempt_at": "2026-03-24T15:00:00Z", "completed_at": None,
                },
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def redeliver(self, request, pk=None):
        delivery = self.get_object()
        with refusals_as_conflicts():
            services.endpoint_require_active(delivery.endpoint)
            services.delivery_require_settled(delivery)
        services.deliveries_redeliver(Delivery.objects.filter(pk=delivery.pk))
        return Response(DeliverySerializer(self.get_object()).data, status=status.HTTP_202_ACCEPTED)
