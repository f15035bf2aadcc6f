app_name = "tuning"

urlpatterns: list = []
