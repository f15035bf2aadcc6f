"""The ingest API: thin views over mqaflow.directory and mqaflow.ingest."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from mqaflow.ingest import BatchInvalid, events_ingest
from mqaflow.models import Account, Contact, Owner
from mqaflow.models.choices import Funnel, MQAStatus
from mqaflow.validation import DOMAIN_MAX_LENGTH

from .errors import error_body
from .permissions import DirectoryPermission
from .query import QueryMixin, QueryParam
from .serializers import (
    AccountSerializer,
    AccountUpdateSerializer,
    ContactSerializer,
    EventIngestResultSerializer,
    EventListSerializer,
    EventSerializer,
    OwnerSerializer,
)

# Path lookups: no slash, no control character (a NUL would reach PostgreSQL), bounded.
EMAIL_LOOKUP = r"[^/\x00-\x1f\x7f]{1,254}"
DOMAIN_LOOKUP = r"[^/\x00-\x1f\x7f]{1,253}"

OWNER_EXAMPLE = {
    "email": "ana@seller.example",
    "name": "Ana Souza",
    "title": "ADR",
    "manager": "maya@seller.example",
}
ACCOUNT_EXAMPLE = {
    "domain": "acme.com",
    "name": "Acme",
    "funnel": 1,
    "employees": 1200,
    "industry": "Manufacturing",
    "owner": "ana@seller.example",
    "external_id": "0015g00000XyZ",
}
CONTACT_EXAMPLE = {
    "account": "acme.com",
    "email": "jane@acme.com",
    "name": "Jane Doe",
    "title": "VP IT",
    "persona": "it",
    "seniority": "vp",
}
EVENT_EXAMPLE = {
    "id": "hubspot-88121",
    "account": "acme.com",
    "contact": "jane@acme.com",
    "activity": "webinar_attended",
    "occurred_at": "2026-11-20T16:00:00+01:00",
    "source": "hubspot",
}


@extend_schema(
    examples=[OpenApiExample("New owner", value=OWNER_EXAMPLE, request_only=True)],
    methods=["POST", "PUT"],
)
@extend_schema(
    examples=[
        OpenApiExample("New manager", value={"manager": "ben@seller.example"}, request_only=True)
    ],
    methods=["PATCH"],
)
class OwnerViewSet(
    QueryMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [DirectoryPermission]
    serializer_class = OwnerSerializer
    queryset = Owner.objects.select_related("manager").order_by("pk")
    lookup_field = "email"
    lookup_value_regex = EMAIL_LOOKUP


@extend_schema(
    examples=[OpenApiExample("New account", value=ACCOUNT_EXAMPLE, request_only=True)],
    methods=["POST"],
)
@extend_schema(
    examples=[
        OpenApiExample(
            "Exclude",
            value={"excluded": True, "excluded_reason": "partner"},
            request_only=True,
        )
    ],
    methods=["PATCH"],
)
class AccountViewSet(
    QueryMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [DirectoryPermission]
    serializer_class = AccountSerializer
    lookup_field = "domain"
    lookup_value_regex = DOMAIN_LOOKUP
    http_method_names = ["get", "post", "patch", "head", "options"]
    query_params_declared = (
        QueryParam("funnel", "integer", "1 (target), 2 (in-profile) or 3 (other)", Funnel.values),
        QueryParam("mqa_status", enum=MQAStatus.values),
        QueryParam("owner", description="The owner's email."),
    )

    @extend_schema(parameters=[p.openapi() for p in query_params_declared])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_serializer_class(self):
        if self.action == "partial_update":
            return AccountUpdateSerializer
        return AccountSerializer

    def get_queryset(self):
        qs = Account.objects.select_related(
            "owner", "mqa_rule", "mqa_clause__rule", "mqa_act_now_rule"
        ).order_by("pk")
        query = getattr(self, "query", {})
        if "funnel" in query:
            qs = qs.filter(funnel=query["funnel"])
        if "mqa_status" in query:
            qs = qs.filter(mqa_status=query["mqa_status"])
        if "owner" in query:
            qs = qs.filter(owner__email=query["owner"].strip().lower())
        return qs

    def get_object(self):
        self.kwargs["domain"] = self.kwargs["domain"].lower()
        return super().get_object()


@extend_schema(
    examples=[OpenApiExample("New contact", value=CONTACT_EXAMPLE, request_only=True)],
    methods=["POST"],
)
class ContactViewSet(
    QueryMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [DirectoryPermission]
    serializer_class = ContactSerializer
    query_params_declared = (
        QueryParam("account", description="The account's domain.", max_length=DOMAIN_MAX_LENGTH),
    )

    @extend_schema(parameters=[p.openapi() for p in query_params_declared])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        qs = Contact.objects.select_related("account").order_by("pk")
        query = getattr(self, "query", {})
        if "account" in query:
            qs = qs.filter(account__domain=query["account"].strip().lower())
        return qs


class EventsView(QueryMixin, generics.ListAPIView):
    """GET lists stored events (filter by `account` domain and `since`); POST ingests a batch
    of up to MQAFLOW_EVENT_BATCH_MAX events, all or nothing."""

    permission_classes = [DirectoryPermission]
    serializer_class = EventListSerializer
    query_params_declared = (
        QueryParam("account", description="The account's domain.", max_length=DOMAIN_MAX_LENGTH),
        QueryParam(
            "since",
            "datetime",
            "Only events that occurred at or after this ISO 8601 time (UTC if no offset).",
        ),
    )

    def get_queryset(self):
        from mqaflow.models import EngagementEvent

        qs = EngagementEvent.objects.select_related("account", "contact", "activity")
        query = getattr(self, "query", {})
        if "account" in query:
            qs = qs.filter(account__domain=query["account"].strip().lower())
        if "since" in query:
            qs = qs.filter(occurred_at__gte=query["since"])
        return qs.order_by("-occurred_at", "-pk")

    @extend_schema(
        parameters=[p.openapi() for p in query_params_declared],
        description="Stored events, newest first; filter by `account` domain and `since`.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None  # the API always paginates (REST_FRAMEWORK settings)
        rows = [
            {
                "id": e.external_id,
                "account": e.account.domain,
                "contact": e.contact.email if e.contact_id else None,
                "activity": e.activity.key,
                "occurred_at": e.occurred_at.isoformat(),
                "minutes": str(e.minutes),
                "source": e.source,
            }
            for e in page
        ]
        return self.get_paginated_response(rows)

    @extend_schema(
        request=EventSerializer,  # one object or a list: see config.schema.postprocess
        responses={201: EventIngestResultSerializer},
        description="Ingest one event or a batch, all or nothing: one bad item and nothing is "
        "stored, and the 400 lists every error by item index and field. `id` is the "
        "idempotency key: an id already stored counts as a duplicate.",
        examples=[
            OpenApiExample("One event", value=EVENT_EXAMPLE, request_only=True),
            OpenApiExample(
                "A batch",
                value=[
                    EVENT_EXAMPLE,
                    {
                        "id": "web-5512",
                        "account": "acme.com",
                        "contact": None,
                        "activity": "web_visit",
                        "occurred_at": "2026-11-21T08:12:00Z",
                        "minutes": 3,
                    },
                ],
                request_only=True,
            ),
        ],
    )
    def post(self, request):
        data = request.data
        items = data if isinstance(data, list) else [data]
        limit = settings.MQAFLOW_EVENT_BATCH_MAX
        if not items:
            raise ValidationError({"non_field_errors": ["Send at least one event."]})
        if len(items) > limit:
            raise ValidationError(
                {"non_field_errors": [f"At most {limit} events per request; got {len(items)}."]}
            )
        try:
            result = events_ingest(items=items)
        except BatchInvalid as exc:
            errors = exc.errors
            if not isinstance(data, list):
                body = error_body(400, errors=errors[0])
            else:
                body = error_body(
                    400,
                    detail=f"Invalid event(s) at index {', '.join(map(str, errors))}.",
                    errors={str(i): e for i, e in errors.items()},
                    mirror_fields=False,
                )
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {"created": result.created, "duplicates": result.duplicates},
            status=status.HTTP_201_CREATED,
        )
