from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from calendence.errors import Conflict
from calendence.openapi import CONFLICT_RESPONSE, ERROR_RESPONSES
from calendence.viewsets import TenantScopedViewSet

from . import services
from .models import Booking, Location, Service
from .permissions import IsBusinessKey
from .serializers import (
    BookingCreateSerializer,
    BookingRescheduleSerializer,
    BookingSerializer,
    LocationSerializer,
    ServiceSerializer,
)


class BusinessScopedViewSet(TenantScopedViewSet):
    """A viewset over one model of the caller's business."""

    permission_classes = [*TenantScopedViewSet.permission_classes, IsBusinessKey]

    def scoped_queryset(self, api_key):
        return self.model.objects.filter(business_id=api_key.business_id)


@extend_schema_view(
    create=extend_schema(summary="Create a location", responses={201: LocationSerializer, **ERROR_RESPONSES}),
    list=extend_schema(summary="List locations", responses={200: LocationSerializer, **ERROR_RESPONSES}),
)
class LocationViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, BusinessScopedViewSet):
    model = Location
    serializer_class = LocationSerializer

    def perform_create(self, serializer):
        serializer.instance = services.location_create(
            business=self.request.auth.business, **serializer.validated_data
        )


@extend_schema_view(
    create=extend_schema(summary="Create a service", responses={201: ServiceSerializer, **ERROR_RESPONSES}),
    list=extend_schema(summary="List services", responses={200: ServiceSerializer, **ERROR_RESPONSES}),
)
class ServiceViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, BusinessScopedViewSet):
    model = Service
    serializer_class = ServiceSerializer

    def perform_create(self, serializer):
        serializer.instance = services.service_create(
            business=self.request.auth.business, **serializer.validated_data
        )


@extend_schema_view(
    retrieve=extend_schema(summary="Get a booking", responses={200: BookingSerializer, **ERROR_RESPONSES}),
    list=extend_schema(summary="List bookings, newest first", responses={200: BookingSerializer, **ERROR_RESPONSES}),
)
class BookingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BusinessScopedViewSet):
    model = Booking
    serializer_class = BookingSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def scoped_queryset(self, api_key):
        return super().scoped_queryset(api_key).select_related("service", "location", "client")

    @extend_schema(
        summary="Create a booking (emits booking.created)",
        request=BookingCreateSerializer,
        responses={201: BookingSerializer, **ERROR_RESPONSES},
    )
    def create(self, request, *args, **kwargs):
        data = self.validated(BookingCreateSerializer)
        booking = services.booking_create(
            business=request.auth.business,
            service=data["service_id"],
            location=data["location_id"],
            client=data["client"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
        )
        return Response(BookingSerializer(booking).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Reschedule a booking (emits booking.updated)",
        request=BookingRescheduleSerializer,
        responses={200: BookingSerializer, **ERROR_RESPONSES, **CONFLICT_RESPONSE},
    )
    def partial_update(self, request, *args, **kwargs):
        data = self.validated(BookingRescheduleSerializer)
        return self._change(services.booking_reschedule, **data)

    @extend_schema(
        summary="Cancel a booking (emits booking.cancelled)",
        request=None,
        responses={200: BookingSerializer, **ERROR_RESPONSES, **CONFLICT_RESPONSE},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._change(services.booking_cancel)

    @extend_schema(
        summary="Complete a booking (emits booking.completed)",
        request=None,
        responses={200: BookingSerializer, **ERROR_RESPONSES, **CONFLICT_RESPONSE},
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        return self._change(services.booking_complete)

    def _change(self, service, **changes):
        try:
            booking = service(booking=self.get_object(), **changes)
        except services.BookingStateError as exc:
            raise Conflict(str(exc), code="invalid_transition") from exc
        return Response(BookingSerializer(booking).data)
