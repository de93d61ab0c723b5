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
    path(
        "webhooks/<uuid:webhook_id>/test",
        WebhookDeliveryViewSet.as_view({"post": "send_test"}),
        name="webhook-test",
    ),
    path(
        "webhooks/<uuid:webhook_id>/stats",
        WebhookDeliveryViewSet.as_view({"get": "stats"}),
        name="webhook-stats",
    ),
    path(
        "webhooks/<uuid:webhook_id>/recover",
        WebhookDeliveryViewSet.as_view({"post": "recover"}),
        name="webhook-recover",
    ),
    *router.urls,
]
