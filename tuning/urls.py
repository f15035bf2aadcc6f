from django.urls import path

app_name = "tuning"

urlpatterns: list = []
