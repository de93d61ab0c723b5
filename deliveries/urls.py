from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import DeliveryViewSet, WebhookDeliveryViewSet

router = SimpleRouter(trailing_slash=False)
router.register("deliveries", DeliveryViewSet, basename="delivery")

urlpatterns = [
    path(
        "webhooks/<uuid:webhook_id>/deliveries",
        WebhookDeliveryViewSet.as_view({"get": "list"}),
        name="webhook-deliveries",
    ),
    *router.urls,
]
