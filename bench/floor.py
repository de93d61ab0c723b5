"""The API's floor, for the api scenario: a bare DRF view beside the whole API.

It has no authentication, permission, throttle, serializer or query: what is left is what
every request to this service costs (gunicorn, the middleware, DRF's dispatch and content
negotiation, a JSON render). The api scenario's web process runs with
DJANGO_SETTINGS_MODULE=bench.floor_settings, which serves it at /bench/floor, and reads the
API's CPU per request against it in the same run.
"""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from calendence.urls import handler400, handler404, handler500  # noqa: F401 - the service's error pages
from calendence.urls import urlpatterns as service_urlpatterns


class FloorView(APIView):
    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()

    def get(self, request):
        return Response({"data": [], "has_more": False})


urlpatterns = [path("bench/floor", FloorView.as_view()), *service_urlpatterns]
