from django.urls import path

from . import views

app_name = "tuning"

urlpatterns: list = [
    path("rule-sets/<int:rule_set_pk>/backtests/", views.backtest_new, name="backtest_new"),
    path("backtests/<int:pk>/", views.backtest_run, name="backtest_run"),
    path("backtests/<int:pk>/status/", views.backtest_status, name="backtest_status"),
    path("backtests/<int:pk>/mqas.csv", views.backtest_csv, name="backtest_csv"),
]
