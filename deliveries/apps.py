from django.apps import AppConfig


class DeliveriesConfig(AppConfig):
    name = "deliveries"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import receivers  # noqa: F401 - connects the booking signal receivers
