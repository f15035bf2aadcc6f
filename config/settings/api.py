"""The REST API: Django REST framework and its OpenAPI schema (drf-spectacular)."""

from config.env import env

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mqaflow.api.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "mqaflow.api.permissions.TokenScopePermission",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "mqaflow.api.parsers.LimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "mqaflow.api.query.BoundedLimitOffsetPagination",
    "EXCEPTION_HANDLER": "mqaflow.api.errors.api_exception_handler",
    "PAGE_SIZE": 100,
    # Counted in the cache (config/settings/django.py: Redis when there is one).
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="1200/min"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "mqaflow API",
    "DESCRIPTION": "Push engagement in, read Marketing Qualified Accounts and plays out.",
    "VERSION": "1.0.0",
    "ENUM_NAME_OVERRIDES": {"MQAStatusEnum": "mqaflow.models.choices.MQAStatus"},
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Request bodies get their own components, so required text is minLength 1 there.
    "COMPONENT_SPLIT_REQUEST": True,
    # JSON is the documented body; form posts keep working but are not advertised.
    "PARSER_WHITELIST": ["mqaflow.api.parsers.LimitedJSONParser"],
    # Error responses, the events body and other facts the views cannot express: see there.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.schema.postprocess",
    ],
}
