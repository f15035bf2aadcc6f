from django.apps import AppConfig


class MqaflowConfig(AppConfig):
    name = "mqaflow"
    verbose_name = "Accounts and qualification"
    default_auto_field = "django.db.models.BigAutoField"
