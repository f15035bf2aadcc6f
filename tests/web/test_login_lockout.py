"""The login lockout counts failures per username whatever its case or padding."""

import pytest
from django.test import Client

from tests.factories import OwnerFactory

pytestmark = pytest.mark.django_db


def test_lockout_applies_to_the_upper_cased_username():
    owner = OwnerFactory(email="bob@x.com")
    owner.user.set_password("right-password-1")
    owner.user.save()
    client = Client()
    for _ in range(5):
        client.post("/accounts/login/", {"username": "Bob@x.com", "password": "wrong"})
    for spelling in ("BOB@X.COM", " bob@x.com ", "bob@x.com"):
        response = client.post(
            "/accounts/login/", {"username": spelling, "password": "right-password-1"}
        )
        assert response.status_code == 429, spelling
