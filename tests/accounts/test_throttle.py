"""Failed logins per account and per address, and registrations per address, are budgets
(chat.limits): past one, a clear form error and 429, never a 500 or a hint whether the
account exists; a successful login costs nothing."""

import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.urls import reverse

from accounts.throttle import client_address
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-much-longer-passphrase-42"


@pytest.fixture
def budgets(settings, fresh_cache):
    """Set some budgets (name → (count, seconds)), in a cache of this test's own."""

    def set_budgets(**limits):
        settings.PARLEY_LIMITS = {**settings.PARLEY_LIMITS, **limits}

    return set_budgets


def log_in(client, username, password, address="192.0.2.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def throttled(response) -> bool:
    if response.status_code != 429:
        return False
    errors = response.context["form"].non_field_errors().as_data()
    return [error.code for error in errors] == ["throttled"]


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("", "unknown"),
    ],
)
def test_the_client_address_is_remote_addr_and_ipv6_counts_by_its_64(address, counted_as):
    assert client_address(RequestFactory().get("/", REMOTE_ADDR=address)) == counted_as


class TestLogin:
    def test_failed_logins_for_one_account_are_limited(self, client, user, budgets):
        budgets(login_account=(3, 900))
        for _ in range(3):
            assert log_in(client, "alice", "wrong").status_code == 200
        response = log_in(client, "alice", PASSWORD)  # the right password, too late
        assert throttled(response)
        assert "Too many failed attempts to log in" in response.content.decode()
        assert client.get(reverse("home")).status_code == 302
        # Other accounts, and the same one in another case, are counted apart only by name.
        assert throttled(log_in(client, "ALICE", PASSWORD, address="192.0.2.2"))
        UserFactory(username="bob")
        assert log_in(client, "bob", PASSWORD).status_code == 302

    def test_a_name_without_an_account_is_throttled_alike(self, client, user, budgets):
        budgets(login_account=(2, 900))
        answers = []
        for name in ("alice", "nobody"):
            pages = [log_in(client, name, "wrong") for _ in range(3)]
            answers.append([(page.status_code, throttled(page)) for page in pages])
        assert answers[0] == answers[1] == [(200, False), (200, False), (429, True)]

    def test_successful_logins_are_not_counted(self, client, user, budgets):
        budgets(login_account=(2, 900), login_address=(2, 900))
        for _ in range(5):
            assert log_in(client, "alice", PASSWORD).status_code == 302
            client.post(reverse("logout"))
        assert log_in(client, "alice", "wrong").status_code == 200
        assert log_in(client, "alice", PASSWORD).status_code == 302

    def test_failed_logins_from_one_address_are_limited(self, client, budgets):
        budgets(login_address=(3, 900))
        people = [UserFactory(username=name) for name in ("ann", "ben", "cid", "dan")]
        for person in people[:3]:
            assert log_in(client, person.username, "wrong").status_code == 200
        assert throttled(log_in(client, "dan", PASSWORD))
        assert log_in(client, "dan", PASSWORD, address="198.51.100.9").status_code == 302

    def test_an_ipv6_subscriber_cannot_dodge_by_changing_address(self, client, user, budgets):
        budgets(login_address=(2, 900))
        log_in(client, "x", "wrong", address="2001:db8::1")
        log_in(client, "y", "wrong", address="2001:db8::2")
        assert throttled(log_in(client, "alice", PASSWORD, address="2001:db8::3"))


class TestRegistration:
    def register(self, client, username, address="192.0.2.1", password=NEW_PASSWORD):
        return client.post(
            reverse("register"),
            {"username": username, "password1": password, "password2": password},
            REMOTE_ADDR=address,
        )

    def test_registrations_from_one_address_are_limited(self, client, budgets):
        budgets(register_address=(2, 3600))
        assert self.register(client, "carol", password="short").status_code == 200  # not made
        for name in ("carol", "dave"):
            assert self.register(client, name).status_code == 302
            client.post(reverse("logout"))
        response = self.register(client, "erin")
        assert response.status_code == 429
        assert "Too many accounts were made from your address" in response.content.decode()
        assert not get_user_model().objects.filter(username="erin").exists()
        assert self.register(client, "erin", address="198.51.100.9").status_code == 302


def test_the_admin_login_counts_failures_too(client, budgets):
    budgets(login_account=(2, 900))
    UserFactory(username="root", is_staff=True, is_superuser=True)
    url = reverse("admin:login")
    for _ in range(2):
        client.post(url, {"username": "root", "password": "wrong"}, REMOTE_ADDR="192.0.2.1")
    page = client.post(url, {"username": "root", "password": PASSWORD}, REMOTE_ADDR="192.0.2.1")
    assert page.status_code == 200
    assert "Too many failed attempts to log in" in page.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302
