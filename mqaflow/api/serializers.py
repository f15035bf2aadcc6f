"""API shapes for owners, accounts and contacts (events are validated by mqaflow.ingest)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.fields import get_error_detail

from mqaflow import directory
from mqaflow.models import Account, Contact, Owner


class _EmailRef(serializers.SlugRelatedField):
    """A related owner given by email, case-insensitively."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = data.strip().lower()
        return super().to_internal_value(data)


def _django_errors(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(get_error_detail(exc))


class _ActorMixin:
    def _actor(self):
        request = self.context.get("request")
        return getattr(request, "user", None)


class OwnerSerializer(_ActorMixin, serializers.ModelSerializer):
    manager = _EmailRef(
        slug_field="email", queryset=Owner.objects.all(), allow_null=True, required=False
    )
    delegate = _EmailRef(
        slug_field="email",
        queryset=Owner.objects.all(),
        allow_null=True,
        required=False,
        help_text="Takes over this owner's plays when they are deactivated.",
    )
    active = serializers.BooleanField(
        source="is_active", required=False, help_text="Same as is_active."
    )

    class Meta:
        model = Owner
        fields = ["email", "name", "title", "manager", "delegate", "is_active", "active"]

    def create(self, validated_data):
        try:
            return directory.owner_create(**validated_data)
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc

    def update(self, instance, validated_data):
        try:
            return directory.owner_update(owner=instance, by=self._actor(), **validated_data)
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc


class MQASerializer(serializers.Serializer):
    status = serializers.CharField(source="mqa_status")
    qualified_at = serializers.DateTimeField()
    rule = serializers.SerializerMethodField()
    clause = serializers.SerializerMethodField()
    act_now_rule = serializers.SerializerMethodField()
    figures = serializers.JSONField(source="mqa_figures")
    explanation = serializers.CharField(source="mqa_explanation")

    def get_rule(self, account) -> str | None:
        return account.mqa_rule.name if account.mqa_rule_id else None

    def get_clause(self, account) -> str | None:
        return str(account.mqa_clause) if account.mqa_clause_id else None

    def get_act_now_rule(self, account) -> str | None:
        return account.mqa_act_now_rule.name if account.mqa_act_now_rule_id else None


class AccountSerializer(_ActorMixin, serializers.ModelSerializer):
    owner = _EmailRef(
        slug_field="email", queryset=Owner.objects.all(), allow_null=True, required=False
    )
    mqa = MQASerializer(source="*", read_only=True)

    class Meta:
        model = Account
        fields = [
            "domain",
            "name",
            "funnel",
            "employees",
            "industry",
            "owner",
            "excluded",
            "excluded_reason",
            "external_id",
            "mqa",
        ]
        extra_kwargs = {"external_id": {"allow_null": True, "required": False}}

    def validate_domain(self, value: str) -> str:
        from mqaflow.models import normalise_domain

        value = normalise_domain(value)
        if not value or "." not in value or " " in value:
            raise serializers.ValidationError("Enter a domain such as acme.com.")
        if self.instance is not None and value != self.instance.domain:
            raise serializers.ValidationError("The domain of an account cannot be changed.")
        clash = Account.objects.filter(domain=value)
        if self.instance is None and clash.exists():
            raise serializers.ValidationError("An account with this domain already exists.")
        return value

    def validate(self, attrs):
        excluded = attrs.get("excluded", getattr(self.instance, "excluded", False))
        if not excluded and "excluded_reason" not in attrs and self.instance is not None:
            attrs["excluded_reason"] = ""
        return attrs

    def create(self, validated_data):
        try:
            return directory.account_create(**validated_data)
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc

    def update(self, instance, validated_data):
        try:
            return directory.account_update(account=instance, by=self._actor(), **validated_data)
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc


class ContactSerializer(serializers.ModelSerializer):
    account = serializers.SlugRelatedField(slug_field="domain", queryset=Account.objects.all())

    class Meta:
        model = Contact
        fields = ["account", "email", "name", "title", "persona", "seniority"]
        validators = []  # the (account, email) clash is reported on the email field below

    def validate(self, attrs):
        email = attrs["email"].strip().lower()
        if Contact.objects.filter(account=attrs["account"], email=email).exists():
            raise serializers.ValidationError(
                {"email": "A contact with this email already exists at this account."}
            )
        attrs["email"] = email
        return attrs

    def create(self, validated_data):
        try:
            return directory.contact_create(**validated_data)
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc


class EventSerializer(serializers.Serializer):
    """The shape of one event (documentation; batches are validated by mqaflow.ingest)."""

    id = serializers.CharField(max_length=200, help_text="Your idempotency key.")
    account = serializers.CharField(help_text="The account's domain.")
    contact = serializers.EmailField(allow_null=True, required=False)
    activity = serializers.SlugField(help_text="An activity type key, e.g. web_visit.")
    occurred_at = serializers.DateTimeField(help_text="ISO 8601 with a UTC offset.")
    minutes = serializers.DecimalField(max_digits=10, decimal_places=2, required=False)
    source = serializers.CharField(required=False, allow_blank=True)


class EventIngestResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
