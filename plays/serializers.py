from rest_framework import serializers

from .models import Escalation, Play, PlayOutcome


class EscalationSerializer(serializers.ModelSerializer):
    recipient = serializers.EmailField(source="recipient_email")

    class Meta:
        model = Escalation
        fields = ["step", "kind", "level", "recipient", "due_at", "sent_at", "status", "note"]


class PlaySerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="account.domain")
    assignee = serializers.EmailField(source="assignee.email")
    escalations = EscalationSerializer(many=True, read_only=True)
    explanation = serializers.CharField(source="transition.explanation")
    dismissed_reason = serializers.CharField(source="dismissed_reason.slug", default=None)

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
        ]


class StartSerializer(serializers.Serializer):
    message = serializers.CharField(required=False, allow_blank=True, max_length=20000)


class CompleteSerializer(serializers.Serializer):
    """Optional: completing without an outcome keeps working for earlier clients."""

    outcome = serializers.ChoiceField(choices=PlayOutcome.choices, required=False, allow_blank=True)


class DismissSerializer(serializers.Serializer):
    reason = serializers.SlugField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ReassignSerializer(serializers.Serializer):
    owner = serializers.EmailField()
