"""Read side of qualification: an account's transitions and the MQA report."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from mqaflow.models import Account, MQATransition
from mqaflow.qualification.reports import PERIODS, parse_report_range
from mqaflow.selectors import new_mqas_by_period

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
            "cause",
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


class ExplainSerializer(serializers.Serializer):
    domain = serializers.CharField()
    stored_status = serializers.CharField()
    status = serializers.CharField()
    explanation = serializers.CharField()
    rule = serializers.CharField(allow_null=True)
    clause = serializers.CharField(allow_null=True)
    act_now_rule = serializers.CharField(allow_null=True)
    size_band = serializers.CharField()
    figures = serializers.DictField()
    at = serializers.DateTimeField()


class MQAExplainView(APIView):
    """What the rules decide for this account right now, and why ("why not an MQA yet?").

    Read-only: nothing is written; the account's stored status changes only through a
    recompute.
    """

    @extend_schema(responses=ExplainSerializer)
    def get(self, request, domain: str):
        from django.utils import timezone

        from mqaflow.qualification.engine import account_explain

        account = get_object_or_404(Account, domain=domain.lower())
        now = timezone.now()
        decision = account_explain(account=account, now=now)
        data = {
            "domain": account.domain,
            "stored_status": account.mqa_status,
            "status": decision.status,
            "explanation": decision.explanation,
            "rule": decision.rule.name if decision.rule else None,
            "clause": str(decision.clause) if decision.clause else None,
            "act_now_rule": decision.act_now_rule.name if decision.act_now_rule else None,
            "size_band": decision.size_band,
            "figures": decision.figures,
            "at": now,
        }
        return Response(ExplainSerializer(data).data)
