"""Plays API: list what you may see; start, complete, dismiss, reassign through services."""

from __future__ import annotations

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from mqaflow.models import Owner

from . import assignment, services
from .models import DismissReason, Escalation, Play, PlayStatus
from .serializers import (
    CompleteSerializer,
    DismissSerializer,
    PlaySerializer,
    ReassignSerializer,
    StartSerializer,
)


def _with_details(qs):
    return (
        qs.select_related("account", "assignee", "transition", "dismissed_reason")
        .prefetch_related(Prefetch("escalations", Escalation.objects.order_by("step")))
        .order_by("due_at", "pk")
    )


class PlayViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = PlaySerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=PlayStatus.values),
            OpenApiParameter("assignee", str, description="owner email"),
            OpenApiParameter("account", str, description="account domain"),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        qs = _with_details(services.visible_plays(self.request.user))
        params = self.request.query_params
        if params.get("status"):
            if params["status"] not in PlayStatus.values:
                raise ValidationError({"status": f"One of: {', '.join(PlayStatus.values)}."})
            qs = qs.filter(status=params["status"])
        if params.get("assignee"):
            qs = qs.filter(assignee__email=params["assignee"].lower())
        if params.get("account"):
            qs = qs.filter(account__domain=params["account"].lower())
        return qs

    def _act(self, func, **kwargs):
        # Actions look the play up among all plays: the service decides, and anyone who
        # may not act on it gets 403 (not a silent 404), as the API promises.
        play = get_object_or_404(Play, pk=self.kwargs["pk"])
        try:
            play = func(play=play, by=self.request.user, **kwargs)
        except services.PlayPermissionError as exc:
            raise PermissionDenied(str(exc)) from exc
        except services.PlayTransitionError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        # The actor may no longer see it (reassigned outside their team): answer anyway.
        return Response(PlaySerializer(_with_details(Play.objects).get(pk=play.pk)).data)

    @extend_schema(request=StartSerializer, responses=PlaySerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        data = StartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._act(services.play_start, message=data.validated_data.get("message"))

    @extend_schema(request=CompleteSerializer, responses=PlaySerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        data = CompleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._act(services.play_complete, outcome=data.validated_data.get("outcome", ""))

    @extend_schema(request=DismissSerializer, responses=PlaySerializer)
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        data = DismissSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reason = DismissReason.objects.filter(
            slug=data.validated_data["reason"], is_active=True
        ).first()
        if reason is None:
            slugs = DismissReason.objects.filter(is_active=True).values_list("slug", flat=True)
            raise ValidationError({"reason": f"One of: {', '.join(slugs)}."})
        return self._act(
            services.play_dismiss, reason=reason, note=data.validated_data.get("note", "")
        )

    @extend_schema(request=ReassignSerializer, responses=PlaySerializer)
    @action(detail=True, methods=["post"])
    def reassign(self, request, pk=None):
        data = ReassignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        owner = Owner.objects.filter(email=data.validated_data["owner"].lower()).first()
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
