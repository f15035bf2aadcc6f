"""Owners, accounts and contacts: the records marketing ops and the CRM push in."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from mqaflow.models import Account, Contact, Owner, normalise_domain


@transaction.atomic
def owner_create(
    *, email: str, name: str, title: str = "", manager: Owner | None = None, is_active: bool = True
) -> Owner:
    """Create an owner and the Django user they log in with (found or created by email).

    A new user gets no usable password: they set one through password reset.
    """
    email = email.strip().lower()
    User = get_user_model()
    user = (
        User.objects.filter(email__iexact=email).first()
        or User.objects.filter(username__iexact=email).first()
    )
    if user is None:
        user = User(username=email, email=email)
        user.set_unusable_password()
        user.save()
    elif Owner.objects.filter(user=user).exists():
        raise ValidationError({"email": "This user is already linked to another owner."})
    owner = Owner(
        user=user, email=email, name=name, title=title, manager=manager, is_active=is_active
    )
    owner.full_clean()
    owner.save()
    return owner


@transaction.atomic
def owner_update(*, owner: Owner, by=None, **changes) -> Owner:
    """Apply changes; a manager change is checked against cycles before it is saved.
    Deactivating the owner moves their open plays on (the plays app listens)."""
    locked = Owner.objects.select_for_update().get(pk=owner.pk)
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.full_clean()
    locked._changed_by = by
    locked.save()
    return locked


def account_create(**fields) -> Account:
    fields["domain"] = normalise_domain(fields.get("domain", ""))
    account = Account(**fields)
    account.full_clean()
    account.save()
    return account


@transaction.atomic
def account_update(*, account: Account, by=None, **changes) -> Account:
    """Update an account; excluding or re-funnelling it asks for a re-evaluation, and an
    owner change moves the account's open play to the new owner (the plays app listens)."""
    locked = Account.objects.select_for_update().get(pk=account.pk)
    cause = account_change_cause(locked, changes)
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.full_clean()
    locked._changed_by = by
    locked.save()
    if cause:
        from mqaflow.qualification.scheduling import request_recompute

        request_recompute([locked.pk], cause=cause)
    return locked


def account_change_cause(account: Account, changes: dict) -> str:
    """The recompute cause of an edit ("exclusion", "segment change"), or "" if the edit
    cannot change the account's MQA status."""
    changed = {
        name
        for name, value in changes.items()
        if name in ("excluded", "funnel", "employees") and value != getattr(account, name)
    }
    if "excluded" in changed:
        return "exclusion"
    return "segment change" if changed else ""


def contact_create(**fields) -> Contact:
    fields["email"] = (fields.get("email") or "").strip().lower()
    contact = Contact(**fields)
    contact.full_clean()
    contact.save()
    return contact
