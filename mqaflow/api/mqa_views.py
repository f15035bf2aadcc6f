"""Read side of qualification: an account's transitions and the MQA report."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from mqaflow.models import Account, MQATransition
from mqaflow.qualification.reports import PERIODS, new_mqas_by_period, parse_report_range

from .query import QueryMixin, QueryParam


class TransitionSerializer(serializers.ModelSerializer):
    rule = serializers.SerializerMethodField()
    clause = serializers.SerializerMethodField()
    act_now_rule = serializers.SerializerMethodField()

    class Meta:
        model = MQATransition
        fields = [
            "from_status",
            "to_status",
            "at",
            "rule",
            "clause",
            "act_now_rule",
            "funnel",
            "size_band",
            "figures",
            "explanation",
        ]

    # A transition without a clause once answered "<method-wrapper ...>" (the source
    # "clause.__str__" resolved on None): each reference is None when the row has none.
    def get_rule(self, transition) -> str | None:
        return transition.rule.name if transition.rule_id else None

    def get_clause(self, transition) -> str | None:
        return str(transition.clause) if transition.clause_id else None

    def get_act_now_rule(self, transition) -> str | None:
        return transition.act_now_rule.name if transition.act_now_rule_id else None


class MQAHistoryView(QueryMixin, generics.ListAPIView):
    serializer_class = TransitionSerializer

    def get_queryset(self):
        account = get_object_or_404(Account, domain=self.kwargs["domain"].lower())
        return MQATransition.objects.filter(account=account).select_related(
            "rule", "clause__rule", "act_now_rule"
        )


class MQAReportRowSerializer(serializers.Serializer):
    period = serializers.DateField()
    funnel = serializers.IntegerField(min_value=1, max_value=3)
    size_band = serializers.CharField(allow_blank=True)
    count = serializers.IntegerField(min_value=1)


class MQAReportSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=list(PERIODS))
    results = MQAReportRowSerializer(many=True)


class MQAReportView(QueryMixin, APIView):
    """New MQAs per week or month by funnel and size band."""

    query_params_declared = (
        QueryParam("period", description="Group by week (default) or month.", enum=list(PERIODS)),
        QueryParam("from", "date", "First day, inclusive (YYYY-MM-DD)."),
        QueryParam("to", "date", "Last day, inclusive (YYYY-MM-DD); not before `from`."),
    )

    @extend_schema(
        parameters=[p.openapi() for p in query_params_declared],
        responses=MQAReportSerializer,
    )
    def get(self, request):
        params = request.query_params
        period = self.query.get("period", "week")
        bounds, errors = parse_report_range({"from": params.get("from"), "to": params.get("to")})
        if errors:
            raise ValidationError(errors)
        rows = new_mqas_by_period(period=period, start=bounds.get("from"), end=bounds.get("to"))
        return Response({"period": period, "results": MQAReportRowSerializer(rows, many=True).data})
