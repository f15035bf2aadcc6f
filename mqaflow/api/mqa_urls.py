from django.urls import path, re_path

from . import mqa_views
from .views import DOMAIN_LOOKUP

urlpatterns = [
    re_path(
        rf"^accounts/(?P<domain>{DOMAIN_LOOKUP})/mqa-history/$",
        mqa_views.MQAHistoryView.as_view(),
        name="account-mqa-history",
    ),
    path(
        "accounts/<str:domain>/explain/",
        mqa_views.MQAExplainView.as_view(),
        name="account-mqa-explain",
    ),
    path("reports/mqas/", mqa_views.MQAReportView.as_view(), name="report-mqas"),
]
