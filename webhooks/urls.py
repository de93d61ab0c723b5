from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import EventTypeListView, WebhookEndpointViewSet

router = SimpleRouter(trailing_slash=False)
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")

urlpatterns = [
    path("event-types", EventTypeListView.as_view(), name="event-types"),
    *router.urls,
]
