"""Plays API: list what you may see; start, complete, dismiss, reassign through services."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from mqaflow.api.errors import Conflict
from mqaflow.api.query import QueryMixin, QueryParam
from mqaflow.validation import DOMAIN_MAX_LENGTH

from . import assignment, selectors, services
from .models import Play, PlayStatus
from .serializers import (
    CompleteSerializer,
    DismissSerializer,
    PlaySerializer,
    ReassignSerializer,
    StartSerializer,
)


class PlayViewSet(QueryMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = PlaySerializer
    # Digits only (and no more than a bigint holds): "abc" or "1.5" is a 404, not a query.
    lookup_value_regex = r"[0-9]{1,18}"
    # Enums are read when the schema is generated: a status added to PlayStatus appears.
    query_params_declared = (
        QueryParam("status", enum=lambda: PlayStatus.values),
        QueryParam("assignee", description="The assignee's email."),
        QueryParam("account", description="The account's domain.", max_length=DOMAIN_MAX_LENGTH),
    )

    @extend_schema(parameters=[p.openapi() for p in query_params_declared])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        query = getattr(self, "query", {})
        return selectors.plays_filtered(
            qs=selectors.plays_with_details(qs=selectors.visible_plays(user=self.request.user)),
            status=query.get("status"),
            assignee_email=query.get("assignee"),
            account_domain=query.get("account"),
        )

    def _act(self, func, **kwargs):
        # Actions look the play up among all plays: the service decides, and anyone who
        # may not act on it gets 403 (not a silent 404), as the API promises.
        play = get_object_or_404(Play, pk=self.kwargs["pk"])
        try:
            play = func(play=play, by=self.request.user, **kwargs)
        except services.PlayPermissionError as exc:
            raise PermissionDenied(str(exc)) from exc
        except services.PlayTransitionError as exc:
            raise Conflict(str(exc)) from exc
        # The actor may no longer see it (reassigned outside their team): answer anyway.
        answer = selectors.plays_with_details(qs=Play.objects.all()).get(pk=play.pk)
        return Response(PlaySerializer(answer).data)

    @extend_schema(
        request=StartSerializer,
        responses=PlaySerializer,
        examples=[
            OpenApiExample(
                "Start", value={"message": "Called Jane, demo booked."}, request_only=True
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        data = StartSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        return self._act(services.play_start, message=data.validated_data.get("message"))

    @extend_schema(
        request=CompleteSerializer,
        responses=PlaySerializer,
        examples=[
            OpenApiExample("Complete", value={"outcome": "meeting_booked"}, request_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        data = CompleteSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        return self._act(services.play_complete, outcome=data.validated_data.get("outcome", ""))

    @extend_schema(
        request=DismissSerializer,
        responses=PlaySerializer,
        examples=[
            OpenApiExample(
                "Dismiss",
                value={"reason": "wrong-fit", "note": "Not a buyer."},
                request_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        data = DismissSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        reason = selectors.active_dismiss_reason(slug=data.validated_data["reason"])
        if reason is None:
            slugs = selectors.active_dismiss_reason_slugs()
            raise ValidationError({"reason": f"One of: {', '.join(slugs)}."})
        return self._act(
            services.play_dismiss, reason=reason, note=data.validated_data.get("note", "")
        )

    @extend_schema(
        request=ReassignSerializer,
        responses=PlaySerializer,
        examples=[
            OpenApiExample("Reassign", value={"owner": "ben@seller.example"}, request_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    def reassign(self, request, pk=None):
        data = ReassignSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        owner = selectors.owner_by_email(email=data.validated_data["owner"])
        if owner is None:
            raise ValidationError({"owner": "No owner with this email."})
        return self._act(assignment.play_reassign, to_owner=owner)

    @extend_schema(request=None, responses=PlaySerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """A manager reopens a dismissed play within 7 days: pending, with a fresh SLA."""
        return self._act(services.play_reopen)

    def get_object(self):
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])
