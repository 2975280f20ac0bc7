"""The pages for API tokens (the profile's section) and bots (the Bots page), and the
admin's part: a secret shown once, never listed, never stored."""

import io

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from accounts import bots, tokens
from accounts.models import Token, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(user):
    client = Client()
    client.force_login(user)
    return client


def png() -> io.BytesIO:
    data = io.BytesIO()
    Image.new("RGB", (40, 40), (10, 120, 200)).save(data, format="PNG")
    data.seek(0)
    data.name = "face.png"
    return data


class TestTokensOnTheProfile:
    def test_a_token_made_is_shown_once_then_listed_without_its_secret(self, browser, user):
        made = browser.post(reverse("new_token"), {"name": "backup script"})
        assert made.status_code == 200
        assert made["Cache-Control"] == "private, no-store"
        token = Token.objects.get(user=user)
        secret = made.context["secret"]
        assert secret.startswith("parley_") and secret in made.content.decode()
        assert "<code>Authorization: Bearer &lt;token&gt;</code>" in made.content.decode()
        assert token.digest == tokens.digest(secret)
        profile = browser.get(reverse("profile")).content.decode()
        assert "backup script" in profile and "never used" in profile
        assert secret not in profile

    def test_a_nameless_token_is_refused(self, browser):
        response = browser.post(reverse("new_token"), {"name": ""}, follow=True)
        assert "Give the token a name" in response.content.decode()
        assert not Token.objects.exists()

    def test_revoking_on_the_page(self, browser, user):
        token, secret = tokens.make_token(user, name="old")
        profile = browser.get(reverse("profile")).content.decode()
        assert f'action="{reverse("revoke_token", args=[token.pk])}"' in profile
        response = browser.post(reverse("revoke_token", args=[token.pk]), follow=True)
        assert "The token was revoked." in response.content.decode()
        assert not Token.objects.exists()
        assert tokens.authenticate(secret) is None

    def test_someone_elses_token_stays(self, browser, other_user):
        theirs, _secret = tokens.make_token(other_user, name="theirs")
        response = browser.post(reverse("revoke_token", args=[theirs.pk]), follow=True)
        assert "No such token." in response.content.decode()
        assert Token.objects.filter(pk=theirs.pk).exists()


class TestBotsPage:
    def test_making_a_bot_shows_its_token_once(self, browser, user):
        response = browser.post(reverse("bots"), {"username": "helper", "display_name": "Helper"})
        assert response.status_code == 200
        bot = User.objects.get(username="helper")
        assert bot.is_bot and bot.bot_owner == user
        assert tokens.authenticate(response.context["secret"]).user == bot
        page = browser.get(reverse("bots")).content.decode()
        assert "@helper" in page and 'class="tag tag-bot"' in page
        assert response.context["secret"] not in page

    def test_a_refused_name_says_why_under_its_field(self, browser):
        response = browser.post(reverse("bots"), {"username": "alice", "display_name": ""})
        assert response.status_code == 200
        assert response.context["form"].errors["username"]
        assert not User.objects.filter(is_bot=True).exists()

    def test_rename_avatar_new_token_revoke_and_delete(self, browser, user):
        bot, token, _secret = bots.new_bot(user, username="helper", display_name="")
        prefix = f"bot{bot.pk}"
        saved = browser.post(
            reverse("edit_bot", args=[bot.pk]),
            {
                f"{prefix}-username": "pinger",
                f"{prefix}-display_name": "Pinger",
                f"{prefix}-avatar": png(),
            },
            follow=True,
        )
        assert "The bot was saved." in saved.content.decode()
        bot.refresh_from_db()
        assert (bot.username, bot.display_name) == ("pinger", "Pinger")
        assert bot.avatar.name.endswith(".png")
        fresh = browser.post(reverse("new_bot_token", args=[bot.pk]))
        assert tokens.authenticate(fresh.context["secret"]).user == bot
        page = browser.get(reverse("bots")).content.decode()
        assert f'action="{reverse("revoke_bot_token", args=[bot.pk, token.pk])}"' in page
        browser.post(reverse("revoke_bot_token", args=[bot.pk, token.pk]))
        assert list(bot.tokens.values_list("pk", flat=True)) == [fresh.context["token"].pk]
        unticked = browser.post(reverse("delete_bot", args=[bot.pk]), follow=True)
        assert "Tick “Yes, delete it” to delete the bot." in unticked.content.decode()
        assert User.objects.filter(pk=bot.pk).exists()
        browser.post(reverse("delete_bot", args=[bot.pk]), {"confirm": "yes"})
        assert not User.objects.filter(pk=bot.pk).exists()

    def test_someone_elses_bot_is_not_theirs_to_manage(self, browser, other_user):
        bot, _token, _secret = bots.new_bot(other_user, username="theirs", display_name="")
        response = browser.post(
            reverse("delete_bot", args=[bot.pk]), {"confirm": "yes"}, follow=True
        )
        assert "No such bot." in response.content.decode()
        browser.post(reverse("new_bot_token", args=[bot.pk]))
        assert User.objects.filter(pk=bot.pk).exists() and bot.tokens.count() == 1


class TestAdmin:
    @pytest.fixture
    def staff(self, db):
        admin = UserFactory(username="root", is_staff=True, is_superuser=True)
        client = Client()
        client.force_login(admin)
        return client

    def test_a_bot_shows_its_owner_and_tokens_and_gets_a_new_token(self, staff, user):
        bot, _token, _secret = bots.new_bot(user, username="helper", display_name="")
        page = staff.get(reverse("admin:accounts_user_change", args=[bot.pk])).content.decode()
        assert "alice" in page and "bot" in page
        assert 'name="tokens-0-DELETE"' in page  # the token, deletable: revoked
        made = staff.post(
            reverse("admin:accounts_user_changelist"),
            {"action": "make_token", "_selected_action": [bot.pk]},
        )
        assert made.status_code == 200
        assert tokens.authenticate(made.context["secret"]).user == bot
        assert bot.tokens.count() == 2

    def test_deleting_a_bot_in_the_admin_deletes_it_as_an_account(self, staff, user):
        bot, _token, _secret = bots.new_bot(user, username="helper", display_name="")
        staff.post(reverse("admin:accounts_user_delete", args=[bot.pk]), {"post": "yes"})
        assert not User.objects.filter(pk=bot.pk).exists()
        assert not Token.objects.exists()

    @pytest.mark.parametrize(
        ("field", "name", "refused"),
        [
            ("username", "a1ice", True),  # a look-alike of alice's username
            ("display_name", "ALICE", True),
            ("display_name", "Carol", False),
        ],
    )
    def test_renaming_in_the_admin_follows_the_look_alike_rule(
        self, staff, user, field, name, refused
    ):
        someone = UserFactory(username="bob", display_name="")
        page = reverse("admin:accounts_user_change", args=[someone.pk])
        form = staff.get(page).context["adminform"].form
        data = {
            key: value
            for key, value in {**form.initial, field: name}.items()
            if value is not None and key not in ("password", "avatar", "groups", "user_permissions")
        }
        data["date_joined_0"], data["date_joined_1"] = "2026-01-01", "00:00:00"
        data.update({f"tokens-{key}": "0" for key in ("TOTAL_FORMS", "INITIAL_FORMS")})
        response = staff.post(page, data)
        someone.refresh_from_db()
        if refused:
            assert response.status_code == 200
            errors = response.context["adminform"].form.errors
            assert errors[field] == [
                "This name looks too much like someone else's name: choose another."
            ]
            assert getattr(someone, field) != name
        else:
            assert response.status_code == 302, response.context["adminform"].form.errors
            assert getattr(someone, field) == name
