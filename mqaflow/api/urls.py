from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter(trailing_slash=True)
router.register("owners", views.OwnerViewSet, basename="owner")
router.register("accounts", views.AccountViewSet, basename="account")
router.register("contacts", views.ContactViewSet, basename="contact")

urlpatterns = [
    path("", include("mqaflow.api.mqa_urls")),
    path("events/", views.EventsView.as_view(), name="events"),
    path("", include(router.urls)),
]
