from django.urls import path

from .api import PortalSessionCreateView

urlpatterns = [
    path("portal-sessions", PortalSessionCreateView.as_view({"post": "create"}), name="portal-sessions"),
]
