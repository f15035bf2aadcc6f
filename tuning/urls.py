from django.urls import path

from . import views

app_name = "tuning"

urlpatterns: list = [
    path("", views.scorecard_page, name="scorecard"),
    path("digest/", views.digest_toggle, name="digest"),
]
