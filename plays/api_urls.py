from rest_framework.routers import SimpleRouter

from .api_views import PlayViewSet

router = SimpleRouter()
router.register("plays", PlayViewSet, basename="play")

urlpatterns = router.urls
