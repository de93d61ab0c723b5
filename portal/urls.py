from django.urls import path

from .views import catalog, deliveries, endpoints, entry

app_name = "portal"

urlpatterns = [
    path("enter/<str:token>", entry.enter, name="enter"),
    path("leave", entry.leave, name="leave"),
    path("", endpoints.endpoint_list, name="endpoints"),
    path("endpoints/new", endpoints.endpoint_create, name="endpoint-create"),
    path("endpoints/<uuid:endpoint_id>", endpoints.endpoint_detail, name="endpoint"),
    path("endpoints/<uuid:endpoint_id>/edit", endpoints.endpoint_edit, name="endpoint-edit"),
    path("endpoints/<uuid:endpoint_id>/reveal-secret", endpoints.endpoint_reveal, name="endpoint-reveal"),
    path("endpoints/<uuid:endpoint_id>/rotate-secret", endpoints.endpoint_rotate, name="endpoint-rotate"),
    path("endpoints/<uuid:endpoint_id>/test", endpoints.endpoint_send_test, name="endpoint-test"),
    path("endpoints/<uuid:endpoint_id>/active", endpoints.endpoint_set_active, name="endpoint-active"),
    path("endpoints/<uuid:endpoint_id>/delete", endpoints.endpoint_delete, name="endpoint-delete"),
    path("endpoints/<uuid:endpoint_id>/deliveries", deliveries.delivery_log, name="deliveries"),
    path("endpoints/<uuid:endpoint_id>/recover", deliveries.endpoint_recover, name="recover"),
    path("deliveries/<str:delivery_id>", deliveries.delivery_detail, name="delivery"),
    path("deliveries/<str:delivery_id>/redeliver", deliveries.delivery_redeliver, name="redeliver"),
    path("events", catalog.event_catalog, name="catalog"),
]
