"""API shapes for owners, accounts and contacts (events are validated by mqaflow.ingest)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import get_error_detail

from mqaflow import directory
from mqaflow.directory.opportunities import AMOUNT_PATTERN, CURRENCY_PATTERN, MAX_AMOUNT
from mqaflow.ingest import MAX_ID_LENGTH, MAX_MINUTES, MINUTES_PATTERN
from mqaflow.models import Account, Contact, Owner
from mqaflow.models.choices import MQAStatus
from mqaflow.models.opportunities import OPPORTUNITY_ID_MAX_LENGTH
from mqaflow.validation import DOMAIN_MAX_LENGTH, DOMAIN_PATTERN, domain_problem, text_problem


class _TextRef(serializers.SlugRelatedField):
    """A related object given by a text key; text PostgreSQL cannot take is a 400."""

    def __init__(self, *, max_length: int, **kwargs):
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str):
            problem = text_problem(data) or (
                f"At most {self.max_length} characters." if len(data) > self.max_length else None
            )
            if problem:
                raise serializers.ValidationError(problem)
        return super().to_internal_value(data)


# No `format: email`: any text is looked up (and a miss is a 400 naming the field), and
# "" means none, as in CSV files.
@extend_schema_field({"type": "string", "maxLength": 254})
class _EmailRef(_TextRef):
    """A related owner given by email, case-insensitively ("" or null: none)."""

    def __init__(self, **kwargs):
        super().__init__(max_length=254, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = data.strip().lower()
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "maxLength": DOMAIN_MAX_LENGTH})
class _DomainRef(_TextRef):
    """A related account given by domain, case-insensitively."""

    def __init__(self, **kwargs):
        super().__init__(max_length=DOMAIN_MAX_LENGTH, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = data.strip().strip(".").lower()
        return super().to_internal_value(data)


def _json_type_problem(field: serializers.Field, value) -> str | None:
    """Why a JSON value has the wrong type for `field` (DRF itself would coerce 1 to "1",
    "12" to 12 and "yes" to true, which the schema does not promise)."""
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    integral = isinstance(field, serializers.IntegerField) or (
        isinstance(field, serializers.ChoiceField)
        and field.choices
        and all(isinstance(k, int) for k in field.choices)
    )
    if integral:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "Must be an integer."
    if isinstance(
        field, serializers.CharField | serializers.ChoiceField | serializers.RelatedField
    ):
        return None if isinstance(value, str) else "Must be a string."
    return None


if TYPE_CHECKING:
    # What the mixins extend, for the type checker: they only ever sit before a Serializer.
    _SerializerBase = serializers.Serializer
else:
    _SerializerBase = object


class StrictJSONTypes(_SerializerBase):
    """In a JSON request, a value of the wrong JSON type is a 400 naming the field.

    Applies only with a request in the context and a JSON object as data: the CSV import
    (strings only, no request) and form posts keep DRF's coercion.
    """

    def to_internal_value(self, data):
        request = self.context.get("request")
        if request is not None and type(data) is dict:
            errors = {
                name: [problem]
                for name, field in self.fields.items()
                if not field.read_only
                and name in data
                and data[name] is not None
                and (problem := _json_type_problem(field, data[name]))
            }
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


def _django_errors(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(get_error_detail(exc))


class _ActorMixin(_SerializerBase):
    def _actor(self):
        request = self.context.get("request")
        return getattr(request, "user", None)


class OwnerSerializer(_ActorMixin, StrictJSONTypes, serializers.ModelSerializer):
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
        extra_kwargs = {"email": {"max_length": directory.OWNER_EMAIL_MAX_LENGTH}}

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
    status = serializers.ChoiceField(source="mqa_status", choices=MQAStatus.choices)
    qualified_at = serializers.DateTimeField(allow_null=True)
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


@extend_schema_field({"type": "string", "maxLength": DOMAIN_MAX_LENGTH, "pattern": DOMAIN_PATTERN})
class _DomainField(serializers.CharField):
    pass


class AccountSerializer(_ActorMixin, StrictJSONTypes, serializers.ModelSerializer):
    domain: serializers.CharField = _DomainField(max_length=DOMAIN_MAX_LENGTH)
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

        problem = domain_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        value = normalise_domain(value)
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


class AccountUpdateSerializer(AccountSerializer):
    """PATCH: the domain is the account's identity and cannot change (sending the same one
    is harmless; a different one is a 400 naming `domain`)."""

    domain = serializers.CharField(read_only=True)

    def validate(self, attrs):
        sent = self.initial_data.get("domain") if hasattr(self.initial_data, "get") else None
        current = self.instance.domain if self.instance is not None else None
        if sent is not None and (
            not isinstance(sent, str) or sent.strip().strip(".").lower() != current
        ):
            raise serializers.ValidationError(
                {"domain": ["The domain of an account cannot be changed."]}
            )
        return super().validate(attrs)


class ContactSerializer(StrictJSONTypes, serializers.ModelSerializer):
    account = _DomainRef(slug_field="domain", queryset=Account.objects.all())

    class Meta:
        model = Contact
        fields = ["account", "email", "name", "title", "persona", "seniority"]
        # The (account, email) clash is reported on the email field below.
        validators: list[Any] = []

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


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "pattern": r"\S"},
            {"type": "integer"},
        ]
    }
)
class _EventIdField(serializers.CharField):
    pass


@extend_schema_field(
    {
        "oneOf": [
            {"type": "number", "minimum": 0, "maximum": float(MAX_MINUTES)},
            {"type": "string", "pattern": MINUTES_PATTERN},
        ],
        "nullable": True,
    }
)
class _MinutesField(serializers.DecimalField):
    pass


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "format": "email", "maxLength": 254},
            {"type": "string", "maxLength": 0},
        ],
        "nullable": True,
    }
)
class _OptionalEmailField(serializers.EmailField):
    pass


class EventSerializer(serializers.Serializer):
    """The shape of one event (documentation; batches are validated by mqaflow.ingest)."""

    id = _EventIdField(
        help_text="Your idempotency key (an integer is taken as its decimal text).",
    )
    account = _DomainField(max_length=DOMAIN_MAX_LENGTH, help_text="The account's domain.")
    contact = _OptionalEmailField(
        allow_null=True,
        allow_blank=True,
        required=False,
        max_length=254,
        help_text='A contact\'s email at the account; null, "" or absent for anonymous.',
    )
    activity = serializers.SlugField(
        max_length=50, help_text="An activity type key, e.g. web_visit."
    )
    occurred_at = serializers.DateTimeField(
        help_text="ISO 8601 with a UTC offset; from 1970-01-01T00:00:00Z up to now plus the "
        "allowed clock skew (MQAFLOW_EVENT_FUTURE_SKEW_SECONDS, 5 minutes by default)."
    )
    minutes = _MinutesField(
        max_digits=10,
        decimal_places=2,
        required=False,
        allow_null=True,
        help_text="Credited minutes (0 to 99999999.99, rounded to cents); omit or null to "
        "credit the activity's minutes × the contact's seniority multiplier.",
    )
    # The API's field `source` shadows Field.source (a str) in the stubs; DRF itself keeps
    # declared fields apart from the serializer's own attributes.
    source = serializers.CharField(  # type: ignore[assignment]
        required=False, allow_blank=True, allow_null=True, max_length=100
    )


class EventListSerializer(serializers.Serializer):
    """One stored event as GET /api/v1/events/ lists it."""

    id = serializers.CharField()
    account = serializers.CharField()
    contact = serializers.EmailField(allow_null=True)
    activity = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    minutes = serializers.DecimalField(max_digits=10, decimal_places=2)
    source = serializers.CharField(allow_blank=True)  # type: ignore[assignment]  # as above


class EventIngestResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()


@extend_schema_field(
    {
        "oneOf": [
            {"type": "number", "minimum": 0, "maximum": float(MAX_AMOUNT)},
            {"type": "string", "pattern": AMOUNT_PATTERN},
        ],
        "nullable": True,
    }
)
class _AmountField(serializers.DecimalField):
    pass


class OpportunitySerializer(serializers.Serializer):
    """The shape of one opportunity (documentation; batches are validated by
    mqaflow.directory.opportunities)."""

    id = serializers.CharField(
        min_length=1, max_length=OPPORTUNITY_ID_MAX_LENGTH, help_text="The CRM's id: the key."
    )
    account = _DomainField(max_length=DOMAIN_MAX_LENGTH, help_text="The account's domain.")
    name = serializers.CharField(min_length=1, max_length=200)
    created_at = serializers.DateTimeField(
        help_text="When the CRM created it: ISO 8601 with a UTC offset, from "
        "1970-01-01T00:00:00Z up to now plus the allowed clock skew."
    )
    stage = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=100,
        help_text='e.g. "discovery"; null is "".',
    )
    amount = _AmountField(
        max_digits=14,
        decimal_places=2,
        required=False,
        allow_null=True,
        help_text=f"0 to {MAX_AMOUNT}, at most 2 decimal places (never rounded); needs `currency`.",
    )
    currency = serializers.RegexField(
        CURRENCY_PATTERN,
        required=False,
        allow_null=True,
        help_text="ISO 4217 code, stored upper-cased; required with an amount.",
    )
    closed_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Not before created_at; null while open."
    )
    won = serializers.BooleanField(
        required=False, allow_null=True, help_text="true, false, or null while open."
    )
    source = serializers.CharField(  # type: ignore[assignment]  # as EventSerializer's
        required=False, allow_blank=True, allow_null=True, max_length=100
    )


class OpportunityUpsertResultSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text="New opportunities stored.")
    updated = serializers.IntegerField(
        help_text="Items whose id was already stored (the row now holds the item's values; "
        "one already equal is left as it is, with no history entry)."
    )
