"""The real URLs plus two views that fail, for the error-mail tests."""

from django.conf import settings
from django.urls import path

from config.urls import urlpatterns as real_urlpatterns


def broken(request):
    cache_location = settings.REDIS_URL  # a local variable the report would print
    raise RuntimeError(f"cannot reach {settings.CELERY_BROKER_URL} nor {cache_location}")


def broken_elsewhere(request):
    raise KeyError("something else")


urlpatterns = [
    path("broken/", broken),
    path("broken-elsewhere/", broken_elsewhere),
    *real_urlpatterns,
]
