"""POST /api/v1/portal-sessions: a one-time link into a business's portal."""

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from bookings.models import ApiKey, Business
from calendence.openapi import ERROR_RESPONSES
from calendence.viewsets import TenantScopedViewSet
from webhooks.permissions import HasWebhooksPlan

from .links import portal_link_issue


class PortalSessionRequestSerializer(serializers.Serializer):
    business_id = serializers.UUIDField(
        required=False, help_text="Hub keys only, and required for them: one of the hub's businesses."
    )

    def validate(self, data):
        api_key = self.context["request"].auth
        if api_key.business_id is not None and "business_id" in data:
            raise serializers.ValidationError({"business_id": "Only hub keys may choose a business."})
        if api_key.hub_id is not None and "business_id" not in data:
            raise serializers.ValidationError({"business_id": "A hub key must name one of its businesses."})
        return data


class PortalLinkSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="Open it in a browser: it works once, and only until expires_at.")
    expires_at = serializers.DateTimeField()


class PortalSessionCreateView(TenantScopedViewSet):
    permission_classes = [*TenantScopedViewSet.permission_classes, HasWebhooksPlan]
    model = Business
    serializer_class = PortalSessionRequestSerializer  # what OPTIONS describes

    @extend_schema(
        summary="A one-time link into a business's portal (its webhooks in a web page)",
        request=PortalSessionRequestSerializer,
        responses={201: PortalLinkSerializer, **ERROR_RESPONSES},
        examples=[
            OpenApiExample("Business key", request_only=True, value={}),
            OpenApiExample(
                "The link",
                response_only=True,
                status_codes=["201"],
                value={"url": "https://webhooks.example.com/portal/enter/Xq3…", "expires_at": "2026-03-24T14:40:00Z"},
            ),
        ],
    )
    def create(self, request):
        data = self.validated(PortalSessionRequestSerializer)
        business = self._business(request.auth, data.get("business_id"))
        link = portal_link_issue(
            business=business, base_url=settings.PORTAL_BASE_URL or request.build_absolute_uri("/")
        )
        return Response(PortalLinkSerializer(link).data, status=status.HTTP_201_CREATED)

    def _business(self, api_key: ApiKey, business_id) -> Business:
        if api_key.business_id is not None:
            return api_key.business
        business = get_object_or_404(Business, pk=business_id, hub_id=api_key.hub_id)
        if not business.has_webhooks:
            raise PermissionDenied(HasWebhooksPlan.message, code=HasWebhooksPlan.code)
        return business
