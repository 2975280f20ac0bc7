"""Incoming webhooks (chat.services.webhooks): who makes and revokes them, what a post
through one stores and publishes, and what a dead one says."""

import uuid

import pytest
from django.contrib.auth import get_user_model

from accounts.deletion import delete_account
from chat import queries, services
from chat.models import Membership, Message, Webhook
from chat.queries.webhooks import secret_hash
from chat.services.webhooks import MAX_LIVE_PER_ROOM
from tests.factories import RoomFactory, UserFactory, direct_room
from tests.support import refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(user, other_user):
    return RoomFactory(name="builds", kind="private", members=[user, other_user])


def test_an_owner_makes_a_webhook_whose_bot_joins_the_room(user, room, committed, published):
    webhook, secret = committed(services.create_webhook, user, room.pk, "  CI   builds ")
    assert len(secret) >= 32
    stored = Webhook.objects.get(pk=webhook.pk)
    assert stored.secret_hash == secret_hash(secret) != secret
    assert not Webhook.objects.filter(secret_hash__contains=secret).exists()
    bot = stored.bot
    assert (stored.name, bot.display_name, stored.created_by) == ("CI builds", "CI builds", user)
    assert bot.username.startswith("webhook-") and not bot.has_usable_password()
    assert Membership.objects.get(room=room, user=bot).role == Membership.Role.MEMBER
    assert ("room", room.pk, "member") in [p.brief for p in published]
    assert services.create_webhook(user, room.pk, "CD deploys")[1] != secret
    assert bot.is_bot and bot.bot_owner == user


@pytest.mark.parametrize("name", ["alice", "ALICE", "\u0430lice"])  # a Cyrillic а
def test_a_name_like_a_persons_is_refused(user, room, name):
    services.create_webhook(user, room.pk, "CI builds")
    error = refused("bad_request", services.create_webhook, user, room.pk, name)
    assert error.detail == "This name looks too much like someone else's name: choose another."
    assert Webhook.objects.count() == 1


def test_two_webhooks_may_share_a_name_as_bots_wear_their_badge(user, room):
    other_room, _created = services.create_or_join_room(user, "deploys")
    first, _secret = services.create_webhook(user, room.pk, "CI builds")
    second, _secret = services.create_webhook(user, other_room.pk, "CI  Builds")
    assert first.bot != second.bot
    assert (first.bot.display_name, second.bot.display_name) == ("CI builds", "CI Builds")


def test_an_admin_may_make_one_and_a_plain_member_may_not(user, other_user, room):
    refused("forbidden", services.create_webhook, other_user, room.pk, "CI")
    refused("forbidden", queries.room_webhooks, other_user, room.pk)
    services.set_role(user, room.pk, other_user.username, "admin")
    webhook, _secret = services.create_webhook(other_user, room.pk, "CI")
    listed = queries.room_webhooks(other_user, room.pk)["webhooks"]
    assert [entry["id"] for entry in listed] == [webhook.pk]


def test_outsiders_and_direct_rooms_are_refused(user, other_user, room):
    outsider = UserFactory(username="mallory")
    error = refused("not_found", services.create_webhook, outsider, room.pk, "CI")
    assert (
        error.detail == refused("not_found", services.create_webhook, outsider, 10**9, "x").detail
    )
    refused("forbidden", services.create_webhook, user, direct_room(user, other_user).pk, "CI")
    assert not Webhook.objects.exists()


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "bad\x00name", None, 5])
def test_a_bad_name_is_refused_and_nothing_is_made(user, room, name):
    refused("bad_request", services.create_webhook, user, room.pk, name)
    assert not Webhook.objects.exists()
    assert Membership.objects.filter(room=room).count() == 2


def test_a_room_holds_a_bounded_number_of_live_webhooks(user, room):
    made = [
        services.create_webhook(user, room.pk, f"hook {n}")[0] for n in range(MAX_LIVE_PER_ROOM)
    ]
    refused("bad_request", services.create_webhook, user, room.pk, "one more")
    services.revoke_webhook(user, room.pk, made[0].pk)
    services.create_webhook(user, room.pk, "one more")


def test_making_webhooks_spends_a_budget(user, room, settings, fresh_cache):
    settings.PARLEY_LIMITS = {**settings.PARLEY_LIMITS, "webhook": (2, 3600)}
    services.create_webhook(user, room.pk, "one")
    services.create_webhook(user, room.pk, "two")
    refused("rate_limited", services.create_webhook, user, room.pk, "three")
    assert Webhook.objects.count() == 2


def test_a_post_is_a_message_of_the_room_from_the_bot(user, room, committed, published):
    webhook, secret = services.create_webhook(user, room.pk, "CI")
    message, created = committed(
        services.post_to_webhook, secret, "build **passed** for @alice", username="GitHub"
    )
    assert created
    assert (message.author, message.room, message.seq, message.via) == (
        webhook.bot,
        room,
        1,
        "GitHub",
    )
    assert "<strong>passed</strong>" in message.html
    assert list(message.mentions.values_list("username", flat=True)) == ["alice"]
    [event] = [p for p in published if p.frame["type"] == "message"]
    assert event.brief == ("room", room.pk, "message")
    assert event.frame["message"]["via"] == "GitHub"
    assert event.frame["message"]["author"]["display_name"] == "CI"


def test_a_retried_client_msg_id_stores_once(user, room):
    _webhook, secret = services.create_webhook(user, room.pk, "CI")
    cid = str(uuid.uuid4())
    first, created = services.post_to_webhook(secret, "deployed", client_msg_id=cid)
    again, created_again = services.post_to_webhook(secret, "deployed", client_msg_id=cid)
    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert Message.objects.filter(room=room).count() == 1


def test_unknown_and_malformed_secrets_are_not_found(user, room):
    services.create_webhook(user, room.pk, "CI")
    for secret in ("q" * 32, "short", "../../etc", "", "x" * 500):
        refused("not_found", services.post_to_webhook, secret, "hello")
    assert not Message.objects.exists()


def test_a_revoked_webhook_posts_nothing_and_its_bot_leaves(user, room, committed, published):
    webhook, secret = services.create_webhook(user, room.pk, "CI")
    services.post_to_webhook(secret, "before")
    committed(services.revoke_webhook, user, room.pk, webhook.pk)
    bot = webhook.bot
    bot.refresh_from_db()
    assert not bot.is_active
    assert not Membership.objects.filter(room=room, user=bot).exists()
    assert ("revoke", bot.pk, "room.removed") in [p.brief for p in published]
    refused("not_found", services.post_to_webhook, secret, "after")
    assert list(Message.objects.values_list("body", flat=True)) == ["before"]
    assert queries.room_webhooks(user, room.pk) == {"webhooks": []}
    refused("not_found", services.revoke_webhook, user, room.pk, webhook.pk)


def test_a_bot_removed_from_the_room_posts_nothing_until_added_back(user, room):
    webhook, secret = services.create_webhook(user, room.pk, "CI")
    services.remove_member(user, room.pk, webhook.bot.username)
    refused("not_found", services.post_to_webhook, secret, "hello")
    assert not Message.objects.exists()
    assert [entry["id"] for entry in queries.room_webhooks(user, room.pk)["webhooks"]] == [
        webhook.pk
    ]
    services.add_member(user, room.pk, webhook.bot.username)
    assert services.post_to_webhook(secret, "back")[0].body == "back"


def test_only_the_rooms_managers_revoke_and_only_their_rooms_webhooks(user, other_user, room):
    webhook, _secret = services.create_webhook(user, room.pk, "CI")
    refused("forbidden", services.revoke_webhook, other_user, room.pk, webhook.pk)
    elsewhere = RoomFactory(name="elsewhere", kind="private", members=[user])
    refused("not_found", services.revoke_webhook, user, elsewhere.pk, webhook.pk)
    refused("not_found", services.revoke_webhook, user, room.pk, 2**70)
    assert Webhook.objects.get(pk=webhook.pk).revoked_at is None


@pytest.mark.parametrize(
    ("text", "username", "code"),
    [
        ("", None, "bad_request"),
        ("   ", None, "bad_request"),
        ("x" * 4001, None, "too_large"),
        ("ok", "y" * 65, "bad_request"),
        ("ok", 7, "bad_request"),
        ("bell\x07", None, "bad_request"),
    ],
)
def test_a_bad_post_is_refused_and_stores_nothing(user, room, text, username, code):
    _webhook, secret = services.create_webhook(user, room.pk, "CI")
    refused(code, services.post_to_webhook, secret, text, username=username)
    refused("bad_request", services.post_to_webhook, secret, "ok", client_msg_id="not-a-uuid")
    assert not Message.objects.exists()


def test_a_blank_username_shows_no_via(user, room):
    _webhook, secret = services.create_webhook(user, room.pk, "CI")
    message, _created = services.post_to_webhook(secret, "hello", username="   ")
    assert message.via is None


def test_the_room_flood_control_holds_for_a_webhook(user, room, settings, fresh_cache):
    settings.PARLEY_SEND_RATE = (2, 3600)
    _webhook, secret = services.create_webhook(user, room.pk, "CI")
    services.post_to_webhook(secret, "one")
    services.post_to_webhook(secret, "two")
    refused("rate_limited", services.post_to_webhook, secret, "three")
    assert Message.objects.count() == 2


def test_a_deleted_rooms_webhooks_go_and_their_bots_are_deactivated(user, room):
    webhook, secret = services.create_webhook(user, room.pk, "CI")
    services.moderate_delete_room(room.pk)
    assert not Webhook.objects.exists()
    webhook.bot.refresh_from_db()
    assert not webhook.bot.is_active
    refused("not_found", services.post_to_webhook, secret, "hello")


def test_when_its_maker_deletes_their_account_the_webhook_and_its_bot_go(user, room):
    webhook, secret = services.create_webhook(user, room.pk, "CI")
    services.post_to_webhook(secret, "kept")
    delete_account(user)
    assert not Webhook.objects.exists()
    assert not get_user_model().objects.filter(pk=webhook.bot.pk).exists()
    assert Message.objects.get().author is None  # the message stays, by "Deleted user"
    refused("not_found", services.post_to_webhook, secret, "hello")
