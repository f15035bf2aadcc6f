"""Upserts for a nightly CRM sync: PUT creates or updates one owner, account or contact by
its natural key; POST …/bulk/ does up to MQAFLOW_UPSERT_BATCH_MAX at once, all or nothing,
and answers {"created", "updated", "unchanged"}. POST /opportunities/ takes one opportunity
or a batch the same way, keyed by the CRM's id. The work is in mqaflow.directory.

The owner and account viewsets here extend the API's own (mqaflow.api.views) with PUT as an
upsert and a bulk route; PATCH, GET and POST are theirs unchanged.
"""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from mqaflow import directory
from mqaflow.models import Account, Contact, Owner

from . import views
from .errors import error_body
from .permissions import DirectoryPermission
from .serializers import (
    AccountSerializer,
    ContactSerializer,
    OpportunitySerializer,
    OpportunityUpsertResultSerializer,
    OwnerSerializer,
)


def _example(name: str, value) -> list[OpenApiExample]:
    return [OpenApiExample(name, value=value, request_only=True)]


OWNER_PUT = {k: v for k, v in views.OWNER_EXAMPLE.items() if k != "email"} | {
    "external_id": "0055g00000AbC"
}
ACCOUNT_PUT = {k: v for k, v in views.ACCOUNT_EXAMPLE.items() if k != "domain"}
CONTACT_PUT = {k: v for k, v in views.CONTACT_EXAMPLE.items() if k not in ("account", "email")}
OWNERS_BULK = [
    views.OWNER_EXAMPLE,
    {"email": "maya@seller.example", "name": "Maya Cohen", "manager": None},
]

UPSERT_RESULT = inline_serializer(
    "UpsertResult",
    {
        "created": serializers.IntegerField(),
        "updated": serializers.IntegerField(),
        "unchanged": serializers.IntegerField(),
    },
)


def _bulk(request, upsert) -> Response:
    """Run a bulk upsert; a bad batch is a 400 naming every bad item and field."""
    items = request.data
    limit = settings.MQAFLOW_UPSERT_BATCH_MAX
    problem = ""
    if not isinstance(items, list) or not items:
        problem = "Send a JSON list of at least one item."
    elif len(items) > limit:
        problem = f"At most {limit} items per request; got {len(items)}."
    if problem:
        raise ValidationError({"non_field_errors": [problem]})
    try:
        result = upsert(items=items, by=request.user, strict=True)
    except directory.UpsertInvalid as exc:
        return Response(_invalid_batch(exc), status=status.HTTP_400_BAD_REQUEST)
    return Response(result.as_dict(), status=status.HTTP_200_OK)


def _invalid_batch(exc: directory.UpsertInvalid) -> dict:
    """The 400 body of a batch refused whole: every bad item by index, field by field."""
    return error_body(
        400,
        detail=f"Invalid item(s) at index {', '.join(map(str, exc.errors))}; nothing was stored.",
        errors={str(i): e for i, e in exc.errors.items()},
        mirror_fields=False,
    )


def _one(request, upsert, item: dict, fetch, serializer_class) -> Response:
    """Upsert one item: 201 when it was created, 200 otherwise, with its representation."""
    try:
        result = upsert(items=[item], by=request.user, strict=True)
    except directory.UpsertInvalid as exc:
        raise ValidationError(exc.errors.get(0, {})) from exc
    code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return Response(serializer_class(fetch()).data, status=code)


def _body(request) -> dict | None:
    return dict(request.data) if isinstance(request.data, dict) else None


def _key_mismatch(body: dict, field: str, value: str, normalise) -> Response | None:
    if field not in body:
        return None
    given = body[field]
    if not isinstance(given, str) or normalise(given) != value:
        raise ValidationError({field: [f"Does not match the URL ({value})."]})
    return None


def _not_an_object() -> Response:
    raise ValidationError({"non_field_errors": ["Send a JSON object."]})


class OwnerViewSet(views.OwnerViewSet):
    @extend_schema(
        request=OwnerSerializer(partial=True),
        responses={200: OwnerSerializer, 201: OwnerSerializer},
        examples=_example("Upsert an owner", OWNER_PUT),
        description="Create or update the owner with this email (upsert). Managers and "
        "delegates are given by email; `external_id` is the CRM's id.",
    )
    def update(self, request, *args, **kwargs):
        if kwargs.get("partial"):
            return super().update(request, *args, **kwargs)
        body = _body(request)
        if body is None:
            return _not_an_object()
        email = self.kwargs["email"].strip().lower()
        mismatch = _key_mismatch(body, "email", email, lambda v: v.strip().lower())
        if mismatch:
            return mismatch
        body["email"] = email
        return _one(
            request,
            directory.owners_upsert,
            body,
            lambda: Owner.objects.select_related("manager", "delegate").get(email=email),
            OwnerSerializer,
        )

    @extend_schema(
        request=OwnerSerializer(many=True),
        responses={200: UPSERT_RESULT},
        examples=_example("Owners and their manager, in any order", OWNERS_BULK),
        description="Create or update up to 5,000 owners, all or nothing. Managers may be "
        "owners of the same batch, in any order; a cycle is refused naming its items.",
    )
    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk(self, request):
        return _bulk(request, directory.owners_upsert)


class AccountViewSet(views.AccountViewSet):
    http_method_names = [*views.AccountViewSet.http_method_names, "put"]

    @extend_schema(
        request=AccountSerializer(partial=True),
        responses={200: AccountSerializer, 201: AccountSerializer},
        examples=_example("Upsert an account", ACCOUNT_PUT),
        description="Create or update the account with this domain (upsert).",
    )
    def update(self, request, *args, **kwargs):
        if kwargs.get("partial"):
            return super().update(request, *args, **kwargs)
        body = _body(request)
        if body is None:
            return _not_an_object()
        from mqaflow.models import normalise_domain

        domain = normalise_domain(self.kwargs["domain"])
        mismatch = _key_mismatch(body, "domain", domain, normalise_domain)
        if mismatch:
            return mismatch
        body["domain"] = domain
        body.pop("mqa", None)  # read-only: a GET body may be PUT back as it is
        return _one(
            request,
            directory.accounts_upsert,
            body,
            lambda: self.get_queryset().get(domain=domain),
            AccountSerializer,
        )

    @extend_schema(
        request=AccountSerializer(many=True),
        responses={200: UPSERT_RESULT},
        examples=_example("Accounts", [views.ACCOUNT_EXAMPLE]),
        description="Create or update up to 5,000 accounts, all or nothing.",
    )
    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk(self, request):
        return _bulk(request, directory.accounts_upsert)


class ContactViewSet(views.ContactViewSet):
    @extend_schema(
        request=ContactSerializer(many=True),
        responses={200: UPSERT_RESULT},
        examples=_example("Contacts", [views.CONTACT_EXAMPLE]),
        description="Create or update up to 5,000 contacts, all or nothing.",
    )
    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk(self, request):
        return _bulk(request, directory.contacts_upsert)


class ContactDetailView(APIView):
    """GET or PUT (upsert) the contact with this email at the account with this domain."""

    permission_classes = [DirectoryPermission]
    serializer_class = ContactSerializer

    def _fetch(self, account: str, email: str) -> Contact:
        return get_object_or_404(
            Contact.objects.select_related("account"),
            account__domain=account,
            email=email,
        )

    @staticmethod
    def _keys(account: str, email: str) -> tuple[str, str]:
        from mqaflow.models import normalise_domain

        return normalise_domain(account), email.strip().lower()

    @extend_schema(responses=ContactSerializer)
    def get(self, request, account: str, email: str):
        account, email = self._keys(account, email)
        return Response(ContactSerializer(self._fetch(account, email)).data)

    @extend_schema(
        request=ContactSerializer(partial=True),
        responses={200: ContactSerializer, 201: ContactSerializer},
        examples=_example("Upsert a contact", CONTACT_PUT),
    )
    def put(self, request, account: str, email: str):
        account, email = self._keys(account, email)
        body = _body(request)
        if body is None:
            return _not_an_object()
        from mqaflow.models import normalise_domain

        for field, value, normalise in (
            ("account", account, normalise_domain),
            ("email", email, lambda v: v.strip().lower()),
        ):
            mismatch = _key_mismatch(body, field, value, normalise)
            if mismatch:
                return mismatch
        body |= {"account": account, "email": email}
        if not Account.objects.filter(domain=account).exists():
            raise ValidationError({"account": [f"No account {account}."]})
        return _one(
            request,
            directory.contacts_upsert,
            body,
            lambda: self._fetch(account, email),
            ContactSerializer,
        )


OPPORTUNITY_EXAMPLE = {
    "id": "0065g00000QrS",
    "account": "acme.com",
    "name": "Acme — platform rollout",
    "created_at": "2026-11-20T16:00:00+01:00",
    "stage": "discovery",
    "amount": "48000.00",
    "currency": "EUR",
    "closed_at": None,
    "won": None,
    "source": "salesforce",
}


class OpportunitiesView(APIView):
    """POST creates or updates opportunities by the CRM's id, one or a batch, all or nothing."""

    permission_classes = [DirectoryPermission]
    serializer_class = OpportunitySerializer

    @extend_schema(
        request=OpportunitySerializer,  # one object or a list: see config.schema.postprocess
        responses={200: OpportunityUpsertResultSerializer, 201: OpportunityUpsertResultSerializer},
        description="Create or update one opportunity or a batch of up to 5,000, all or "
        "nothing: one bad item and nothing is stored, and the 400 lists every error by item "
        "index and field (by field for a single object). `id` is the CRM's id: an id already "
        "stored updates that opportunity (fields left out keep their value). Answers 201 when "
        "any opportunity was created, else 200.",
        examples=[
            OpenApiExample("One opportunity", value=OPPORTUNITY_EXAMPLE, request_only=True),
            OpenApiExample(
                "A batch",
                value=[
                    OPPORTUNITY_EXAMPLE,
                    {
                        "id": "0065g00000QrT",
                        "account": "acme.com",
                        "name": "Acme — renewal",
                        "created_at": "2026-09-02T09:00:00Z",
                        "stage": "closed won",
                        "amount": 12500,
                        "currency": "USD",
                        "closed_at": "2026-11-02T17:30:00Z",
                        "won": True,
                    },
                ],
                request_only=True,
            ),
        ],
    )
    def post(self, request):
        data = request.data
        single = not isinstance(data, list)
        items = [data] if single else data
        limit = settings.MQAFLOW_UPSERT_BATCH_MAX
        if not items:
            raise ValidationError({"non_field_errors": ["Send at least one opportunity."]})
        if len(items) > limit:
            raise ValidationError(
                {"non_field_errors": [f"At most {limit} items per request; got {len(items)}."]}
            )
        try:
            result = directory.opportunities_upsert(items=items, by=request.user, strict=True)
        except directory.UpsertInvalid as exc:
            body = error_body(400, errors=exc.errors.get(0, {})) if single else _invalid_batch(exc)
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        answer = {"created": result.created, "updated": result.updated + result.unchanged}
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(answer, status=code)
