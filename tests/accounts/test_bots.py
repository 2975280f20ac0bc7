import pytest
from django.urls import reverse

from accounts.bots import create_bot
from accounts.deletion import delete_account
from accounts.models import User
from chat.errors import ChatError
from tests.factories import PASSWORD, RoomFactory


@pytest.mark.django_db
class TestCreateBot:
    def test_makes_a_bot_owned_by_its_maker_with_no_usable_password(self, user):
        bot = create_bot(user, username="helper", display_name="  Helper Bot ")
        bot.refresh_from_db()
        assert bot.is_bot and bot.bot_owner == user
        assert bot.display_name == "Helper Bot"
        assert not bot.has_usable_password()
        assert list(user.bots.all()) == [bot]
        assert not user.is_bot

    @pytest.mark.parametrize(
        ("username", "display_name", "says"),
        [
            ("", "x", "username"),
            ("has space", "x", "username"),
            ("x" * 151, "x", "username"),
            ("ALICE", "x", "already exists"),
            ("аlice", "x", "looks too much like"),  # a Cyrillic а
            ("fine", "Alice", "looks too much like"),
            ("fine", "bad\u200bname\x07", "invalid characters"),
            ("fine", "y" * 65, "display_name"),
        ],
    )
    def test_refuses_what_registration_and_the_profile_refuse(
        self, user, username, display_name, says
    ):
        with pytest.raises(ChatError) as caught:
            create_bot(user, username=username, display_name=display_name)
        assert caught.value.code == "bad_request"
        assert says in caught.value.detail
        assert User.objects.count() == 1

    def test_bots_may_share_a_display_name_but_people_may_not_take_it(self, client, user):
        first = create_bot(user, username="ci-one", display_name="CI")
        second = create_bot(user, username="ci-two", display_name="ci")
        assert (first.display_name, second.display_name) == ("CI", "ci")
        response = client.post(
            reverse("register"), {"username": "CI", "password1": PASSWORD, "password2": PASSWORD}
        )
        assert "looks too much like" in response.content.decode()
        assert not User.objects.filter(username="CI").exists()

    def test_a_bot_cannot_log_in_with_a_password_even_one_set_in_the_admin(self, client, user):
        bot = create_bot(user, username="helper", display_name="")
        bot.set_password(PASSWORD)
        bot.save()
        response = client.post(reverse("login"), {"username": "helper", "password": PASSWORD})
        assert response.status_code == 200  # the form again, with its error
        assert "_auth_user_id" not in client.session

    def test_deleting_the_owner_deletes_their_bots_as_accounts_are_deleted(self, user):
        bot = create_bot(user, username="helper", display_name="")
        RoomFactory(members=[user, bot])
        delete_account(user)
        assert not User.objects.filter(pk__in=[user.pk, bot.pk]).exists()
