from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import upserts, views

router = SimpleRouter(trailing_slash=True)
# The upsert viewsets extend views.OwnerViewSet / AccountViewSet / ContactViewSet with PUT
# as an upsert and POST …/bulk/ (mqaflow.api.upserts).
router.register("owners", upserts.OwnerViewSet, basename="owner")
router.register("accounts", upserts.AccountViewSet, basename="account")
router.register("contacts", upserts.ContactViewSet, basename="contact")

urlpatterns = [
    path("", include("mqaflow.api.mqa_urls")),
    path("events/", views.EventsView.as_view(), name="events"),
    path("opportunities/", upserts.OpportunitiesView.as_view(), name="opportunities"),
    path(
        "contacts/<str:account>/<str:email>/",
        upserts.ContactDetailView.as_view(),
        name="contact-detail",
    ),
    path("", include(router.urls)),
]
