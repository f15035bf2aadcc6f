from django.urls import path

from . import notification_views, views

app_name = "plays"

urlpatterns = [
    path("", views.home, name="home"),
    path("plays/", views.my_plays, name="my_plays"),
    path("plays/<int:pk>/", views.play_detail, name="detail"),
    path("plays/<int:pk>/start/", views.play_start, name="start"),
    path("plays/<int:pk>/complete/", views.play_complete, name="complete"),
    path("plays/<int:pk>/dismiss/", views.play_dismiss, name="dismiss"),
    path("plays/<int:pk>/reassign/", views.play_reassign, name="reassign"),
    path("plays/<int:pk>/reopen/", views.play_reopen, name="reopen"),
    path("plays/<int:pk>/comment/", views.play_comment, name="comment"),
    path("overview/", views.overview, name="overview"),
    path("team/", views.team, name="team"),
    path("team/bulk/", views.team_bulk, name="team_bulk"),
    path("notifications/", notification_views.notifications, name="notifications"),
    path("reports/", views.reports_page, name="reports"),
    path("reports/mqas.csv", views.reports_csv, name="reports_csv"),
    path("reports/<slug:table>.csv", views.reports_table_csv, name="reports_table_csv"),
]
