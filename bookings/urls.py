from rest_framework.routers import SimpleRouter

from .views import BookingViewSet, LocationViewSet, ServiceViewSet

router = SimpleRouter(trailing_slash=False)
router.register("locations", LocationViewSet, basename="location")
router.register("services", ServiceViewSet, basename="service")
router.register("bookings", BookingViewSet, basename="booking")

urlpatterns = router.urls
