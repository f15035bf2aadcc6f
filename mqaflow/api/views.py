"""The ingest API: thin views over mqaflow.directory and mqaflow.ingest."""

from __future__ import annotations

from django.conf import settings
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from mqaflow.ingest import BatchInvalid, events_ingest
from mqaflow.models import Account, Contact, Owner

from .permissions import DirectoryPermission
from .serializers import (
    AccountSerializer,
    ContactSerializer,
    EventIngestResultSerializer,
    EventSerializer,
    OwnerSerializer,
)


class OwnerViewSet(
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
    lookup_value_regex = r"[^/]+"


class AccountViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [DirectoryPermission]
    serializer_class = AccountSerializer
    lookup_field = "domain"
    lookup_value_regex = r"[^/]+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    @extend_schema(
        parameters=[
            OpenApiParameter("funnel", int),
            OpenApiParameter("mqa_status", str, enum=["not_qualified", "mqa", "excluded"]),
            OpenApiParameter("owner", str, description="owner email"),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        qs = Account.objects.select_related(
            "owner", "mqa_rule", "mqa_clause__rule", "mqa_act_now_rule"
        ).order_by("pk")
        params = self.request.query_params
        if params.get("funnel"):
            if params["funnel"] not in {"1", "2", "3"}:
                raise ValidationError({"funnel": "Must be 1, 2 or 3."})
            qs = qs.filter(funnel=params["funnel"])
        if params.get("mqa_status"):
            qs = qs.filter(mqa_status=params["mqa_status"])
        if params.get("owner"):
            qs = qs.filter(owner__email=params["owner"].lower())
        return qs

    def get_object(self):
        self.kwargs["domain"] = self.kwargs["domain"].lower()
        return super().get_object()


class ContactViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [DirectoryPermission]
    serializer_class = ContactSerializer

    @extend_schema(parameters=[OpenApiParameter("account", str, description="account domain")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        qs = Contact.objects.select_related("account").order_by("pk")
        if self.request.query_params.get("account"):
            qs = qs.filter(account__domain=self.request.query_params["account"].lower())
        return qs


class EventsView(generics.ListAPIView):
    """GET lists stored events (filter by `account` domain and `since`); POST ingests a batch
    of up to MQAFLOW_EVENT_BATCH_MAX events, all or nothing."""

    permission_classes = [DirectoryPermission]

    serializer_class = EventSerializer

    def get_queryset(self):
        from mqaflow.models import EngagementEvent

        qs = EngagementEvent.objects.select_related("account", "contact", "activity")
        params = self.request.query_params
        if params.get("account"):
            qs = qs.filter(account__domain=params["account"].lower())
        if params.get("since"):
            since = parse_datetime(params["since"])
            if since is None:
                raise ValidationError({"since": "Not an ISO 8601 datetime."})
            qs = qs.filter(occurred_at__gte=since)
        return qs.order_by("-occurred_at", "-pk")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
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
        request=EventSerializer(many=True),
        responses={201: EventIngestResultSerializer},
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
            result = events_ingest(items)
        except BatchInvalid as exc:
            errors = exc.errors
            if not isinstance(data, list):
                return Response(errors[0], status=status.HTTP_400_BAD_REQUEST)
            return Response(
                {"errors": {str(i): e for i, e in errors.items()}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(
            {"created": result.created, "duplicates": result.duplicates},
            status=status.HTTP_201_CREATED,
        )
