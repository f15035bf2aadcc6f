from django.urls import path

from . import backtest_views, views

app_name = "tuning"

urlpatterns: list = [
    path("", views.scorecard_page, name="scorecard"),
    path("digest/", views.digest_toggle, name="digest"),
    path(
        "rule-sets/<int:rule_set_pk>/backtests/", backtest_views.backtest_new, name="backtest_new"
    ),
    path("backtests/<int:pk>/", backtest_views.backtest_run, name="backtest_run"),
    path("backtests/<int:pk>/status/", backtest_views.backtest_status, name="backtest_status"),
    path("backtests/<int:pk>/mqas.csv", backtest_views.backtest_csv, name="backtest_csv"),
]
