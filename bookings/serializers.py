from rest_framework import serializers

from .models import Booking, Location, Service
from .payloads import booking_payload


class LocationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Location
        fields = ["id", "name", "created_at"]
        read_only_fields = ["id", "created_at"]


class ServiceSerializer(serializers.ModelSerializer):
    duration_minutes = serializers.IntegerField(min_value=1, max_value=24 * 60, default=30)

    class Meta:
        model = Service
        fields = ["id", "name", "duration_minutes", "created_at"]
        read_only_fields = ["id", "created_at"]


class NamedRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class ClientSerializer(serializers.Serializer):
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    email = serializers.EmailField()


class BookingSerializer(serializers.Serializer):
    """The booking as the API and webhook payloads show it (bookings.payloads)."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Booking.Status.choices)
    service = NamedRefSerializer()
    client = ClientSerializer()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    location = NamedRefSerializer()

    def to_representation(self, instance):
        return booking_payload(instance)


def validate_time_range(starts_at, ends_at) -> None:
    if ends_at <= starts_at:
        raise serializers.ValidationError({"ends_at": ["Must be after starts_at."]})


class BookingCreateSerializer(serializers.Serializer):
    service_id = serializers.UUIDField()
    location_id = serializers.UUIDField()
    client = ClientSerializer()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()

    def validate_service_id(self, service_id):
        return self._owned(Service, service_id, "service")

    def validate_location_id(self, location_id):
        return self._owned(Location, location_id, "location")

    def _owned(self, model, pk, noun):
        business = self.context["request"].auth.business
        found = model.objects.filter(pk=pk, business=business).first()
        if found is None:
            raise serializers.ValidationError(f"No {noun} with this id belongs to your business.")
        return found

    def validate(self, attrs):
        validate_time_range(attrs["starts_at"], attrs["ends_at"])
        return attrs


class BookingRescheduleSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()

    def validate(self, attrs):
        validate_time_range(attrs["starts_at"], attrs["ends_at"])
        return attrs
