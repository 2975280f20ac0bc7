"""An optional email address, confirmed by a signed link; password resets by Django's
views, sent only to a confirmed address, and throttled."""

import re

import pytest
from django.core import signing
from django.urls import reverse

from accounts import email
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-much-longer-passphrase-42"


def link_in(message) -> str:
    return re.search(r"https?://\S+", message.body).group(0)


def path_of(link: str) -> str:
    return link.split("://", 1)[1].split("/", 1)[1].join(["/", ""])


def follow_confirmation(client, link: str):
    """Open the link (which changes nothing) and press its button."""
    page = client.get(path_of(link))
    if page.status_code != 200:
        return page
    return client.post(path_of(link))


def set_email(client, address: str):
    return client.post(reverse("profile"), {"display_name": "Alice", "bio": "", "email": address})


@pytest.fixture
def budgets(settings, fresh_cache):
    def set_budgets(**limits):
        settings.PARLEY_LIMITS = {**settings.PARLEY_LIMITS, **limits}

    return set_budgets


@pytest.fixture
def confirmed(client, user, mailoutbox):
    """Alice with alice@example.com, confirmed through the link; her session ended."""
    client.force_login(user)
    set_email(client, "alice@example.com")
    follow_confirmation(client, link_in(mailoutbox[-1]))
    client.logout()
    mailoutbox.clear()
    user.refresh_from_db()
    assert user.email_verified
    return user


class TestConfirmingTheAddress:
    def test_an_address_is_mailed_a_link_that_confirms_it(self, client, user, mailoutbox):
        client.force_login(user)
        response = set_email(client, "Alice@Example.COM")
        assert response.status_code == 302
        user.refresh_from_db()
        assert (user.email, user.email_verified) == ("Alice@example.com", False)
        [message] = mailoutbox
        assert message.to == ["Alice@example.com"]
        assert "alice" in message.body  # the account it is for
        page = client.get(reverse("profile"))
        assert "is not confirmed yet" in page.content.decode()

        client.logout()  # the link needs no session: it may be opened on another device
        link = path_of(link_in(message))
        page = client.get(link)
        assert page.context["account"] == user
        user.refresh_from_db()
        assert not user.email_verified  # opening the link alone confirms nothing
        confirmed = client.post(link)
        assert confirmed.status_code == 200
        assert confirmed.context["confirmed"]
        user.refresh_from_db()
        assert user.email_verified

    def test_a_new_address_is_unconfirmed_and_an_old_link_confirms_nothing(
        self, client, confirmed, mailoutbox
    ):
        client.force_login(confirmed)
        set_email(client, "old@example.com")
        old_link = link_in(mailoutbox[-1])
        set_email(client, "new@example.com")
        confirmed.refresh_from_db()
        assert not confirmed.email_verified
        assert client.get(path_of(old_link)).status_code == 400
        assert client.post(path_of(old_link)).status_code == 400
        confirmed.refresh_from_db()
        assert (confirmed.email, confirmed.email_verified) == ("new@example.com", False)

    def test_a_forged_or_stale_link_confirms_nothing(self, client, user, monkeypatch):
        user.email = "alice@example.com"
        user.save()
        forged = signing.TimestampSigner(salt="another").sign_object(
            {"user": user.pk, "email": user.email}
        )
        for token in (forged, "junk"):
            assert client.get(reverse("confirm_email", args=[token])).status_code == 400
            assert client.post(reverse("confirm_email", args=[token])).status_code == 400
        stale = email.confirmation_token(user)
        monkeypatch.setattr(email, "CONFIRM_MAX_AGE", -1)  # older than it may be
        assert client.post(reverse("confirm_email", args=[stale])).status_code == 400
        user.refresh_from_db()
        assert not user.email_verified

    def test_confirmation_mails_are_limited(self, client, user, mailoutbox, budgets):
        budgets(confirm_email=(2, 3600))
        client.force_login(user)
        set_email(client, "a@example.com")
        client.post(reverse("send_confirmation"))
        response = set_email(client, "b@example.com")
        assert response.status_code == 200
        assert "Too many confirmation mails" in str(response.context["form"].errors["email"])
        client.post(reverse("send_confirmation"))
        assert len(mailoutbox) == 2
        user.refresh_from_db()
        assert user.email == "a@example.com"


class TestPasswordReset:
    def ask(self, client, address, remote="192.0.2.1"):
        return client.post(reverse("password_reset"), {"email": address}, REMOTE_ADDR=remote)

    def test_an_unconfirmed_address_gets_nothing(self, client, user, mailoutbox):
        user.email = "alice@example.com"
        user.save()
        response = self.ask(client, "alice@example.com")
        assert response.url == reverse("password_reset_done")  # the same answer as for anyone
        assert mailoutbox == []

    def test_a_confirmed_address_gets_a_link_that_works_once(self, client, confirmed, mailoutbox):
        response = self.ask(client, "ALICE@example.com")
        assert response.url == reverse("password_reset_done")
        [message] = mailoutbox
        assert message.to == ["alice@example.com"]
        link = path_of(link_in(message))

        form_page = client.get(link, follow=True)
        assert form_page.context["validlink"]
        done = client.post(
            form_page.redirect_chain[-1][0],
            {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )
        assert done.url == reverse("password_reset_complete")
        confirmed.refresh_from_db()
        assert confirmed.check_password(NEW_PASSWORD)
        login = client.post(reverse("login"), {"username": "alice", "password": NEW_PASSWORD})
        assert login.status_code == 302
        client.logout()

        again = client.get(link, follow=True)
        assert not again.context["validlink"]
        assert "does not work any more" in again.content.decode()

    def test_no_address_and_an_unknown_one_answer_alike(self, client, confirmed, mailoutbox):
        assert self.ask(client, "nobody@example.com").url == reverse("password_reset_done")
        assert mailoutbox == []

    def test_requests_from_one_address_are_limited(self, client, confirmed, mailoutbox, budgets):
        budgets(reset_address=(2, 3600))
        for _ in range(2):
            assert self.ask(client, "nobody@example.com").status_code == 302
        response = self.ask(client, "alice@example.com")
        assert response.status_code == 429
        assert "Too many password resets" in response.content.decode()
        assert mailoutbox == []
        assert self.ask(client, "alice@example.com", remote="198.51.100.9").status_code == 302
        assert len(mailoutbox) == 1

    def test_mails_to_one_account_are_limited_without_a_word(
        self, client, confirmed, mailoutbox, budgets
    ):
        budgets(reset_account=(2, 3600))
        answers = [
            self.ask(client, "alice@example.com", remote=f"192.0.2.{i}").url for i in range(4)
        ]
        assert answers == [reverse("password_reset_done")] * 4
        assert len(mailoutbox) == 2

    def test_the_login_page_links_to_the_reset(self, client):
        assert reverse("password_reset") in client.get(reverse("login")).content.decode()


def test_the_link_keeps_the_old_password_until_used(client, confirmed, mailoutbox):
    client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert len(mailoutbox) == 1
    confirmed.refresh_from_db()
    assert confirmed.check_password(PASSWORD)


def test_another_account_with_the_address_unconfirmed_gets_nothing(client, confirmed, mailoutbox):
    UserFactory(username="mallory", email="alice@example.com")  # set, never confirmed
    client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert [message.body.count("Your username is alice") for message in mailoutbox] == [1]
