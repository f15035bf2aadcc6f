from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from mqaflow.api.serializers import StrictJSONTypes
from mqaflow.models import Opportunity

from .models import Notice, Play, PlayOutcome


# The JSON is the contract of earlier releases: the schema component and the play's field
# keep the name `escalations` although the model is `Notice` (it holds every kind of notice).
@extend_schema_serializer(component_name="Escalation")  # compatibility: generated clients
class NoticeSerializer(serializers.ModelSerializer):
    # Blank when nobody could be told (the note says why): not always an email.
    recipient = serializers.CharField(source="recipient_email", allow_blank=True)

    class Meta:
        model = Notice
        fields = ["step", "kind", "level", "recipient", "due_at", "sent_at", "status", "note"]


class AccountOpportunitySerializer(serializers.ModelSerializer):
    """One of the account's opportunities, as the CRM last told it."""

    id = serializers.CharField(source="external_id", help_text="The CRM's id.")

    class Meta:
        model = Opportunity
        fields = ["id", "name", "stage", "amount", "currency", "created_at", "closed_at", "won"]


class PlaySerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="account.domain")
    assignee = serializers.EmailField(source="assignee.email")
    escalations = NoticeSerializer(source="notices", many=True, read_only=True)
    explanation = serializers.CharField(source="transition.explanation")
    opportunities = AccountOpportunitySerializer(
        source="account.opportunities", many=True, read_only=True
    )
    dismissed_reason = serializers.CharField(
        source="dismissed_reason.slug", default=None, allow_null=True
    )

    class Meta:
        model = Play
        fields = [
            "id",
            "account",
            "assignee",
            "status",
            "created_at",
            "due_at",
            "remind_at",
            "started_at",
            "completed_at",
            "dismissed_reason",
            "withdrawn_at",
            "withdrawn_reason",
            "account_disqualified_at",
            "message",
            "outcome",
            "explanation",
            "escalations",
            "opportunities",
        ]


class StartSerializer(StrictJSONTypes, serializers.Serializer):
    message = serializers.CharField(required=False, allow_blank=True, max_length=20000)


class CompleteSerializer(StrictJSONTypes, serializers.Serializer):
    """Optional: completing without an outcome keeps working for earlier clients."""

    outcome = serializers.ChoiceField(
        choices=PlayOutcome.choices,
        required=False,
        allow_blank=True,
        help_text="What came of the play; empty or left out: not given.",
    )


class DismissSerializer(StrictJSONTypes, serializers.Serializer):
    # The schema lists the active reasons (read when it is generated).
    reason = serializers.SlugField(max_length=50, help_text="An active dismiss reason's slug.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ReassignSerializer(StrictJSONTypes, serializers.Serializer):
    owner = serializers.EmailField(max_length=254, help_text="The new assignee's email.")
