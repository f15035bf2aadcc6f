import pytest
from rest_framework.test import APIClient

from tests.factories import OwnerFactory


@pytest.fixture
def api_client(db):
    """An API client authenticated with a real DRF token, as marketing ops would use it."""
    from rest_framework.authtoken.models import Token

    owner = OwnerFactory(name="Marketing Ops", email="ops@seller.example", title="Marketing ops")
    owner.user.is_staff = True
    owner.user.save()
    token = Token.objects.create(user=owner.user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client
