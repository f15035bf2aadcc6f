from django.urls import path

from . import mqa_views

urlpatterns = [
    path(
        "accounts/<str:domain>/mqa-history/",
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
