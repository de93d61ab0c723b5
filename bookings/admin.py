from django.contrib import admin

from .models import ApiKey, Booking, Business, Client, Hub, Location, Service


@admin.register(Hub)
class HubAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "created_at"]
    search_fields = ["name", "id"]


@admin.register(Business)
class BusinessAdmin(admin.ModelAdmin):
    list_display = ["name", "plan", "hub", "created_at"]
    list_filter = ["plan"]
    search_fields = ["name", "=id"]
    ordering = ["name"]  # a stable order for the list and the autocomplete pickers


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are issued with `create_api_key` (the clear key is shown once); here they are only inspected."""

    list_display = ["prefix", "name", "business", "hub", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    readonly_fields = ["id", "prefix", "key_hash", "business", "hub", "created_at", "last_used_at"]
    fields = ["id", "name", "prefix", "business", "hub", "created_at", "last_used_at", "revoked_at", "key_hash"]

    def has_add_permission(self, request):
        return False


class BusinessOwnedAdmin(admin.ModelAdmin):
    list_filter = ["business"]
    search_fields = ["name", "id"]


admin.site.register(Location, BusinessOwnedAdmin)
admin.site.register(Service, BusinessOwnedAdmin)


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["first_name", "last_name", "email", "business"]
    search_fields = ["email", "last_name"]


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    """Saving here goes through Booking.save(), so admin changes emit the same events as the API."""

    list_display = ["id", "business", "service", "client", "status", "starts_at", "ends_at"]
    list_filter = ["status", "business"]
    search_fields = ["id", "client__email"]
    raw_id_fields = ["client"]
