from django.urls import include, path

urlpatterns = [
    path("", include("mqaflow.api.mqa_urls")),
]
