"""Budgets (chat.limits): a sliding window, in memory or shared through Redis, and every
write path, search and history read refused past its budget with nothing changed."""

import uuid

import pytest
import redis

from chat import limits, queries, services
from chat.models import Membership, Message, Reaction, Room
from tests.factories import RoomFactory, UserFactory, direct_room, send
from tests.support import TEST_REDIS_URL, refused, require_service

pytestmark = pytest.mark.django_db

T0 = 1_000_000.0


@pytest.fixture(params=["memory", "redis"])
def store(request, settings):
    """Budgets kept in process memory, or in a real Redis under a private prefix."""
    prefix = f"test-{uuid.uuid4().hex}"
    if request.param == "memory":
        backend = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": prefix}
    else:
        try:
            redis.Redis.from_url(TEST_REDIS_URL).ping()
        except redis.RedisError as exc:
            require_service("Redis", f"{TEST_REDIS_URL} does not answer PING ({exc})")
        backend = {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": TEST_REDIS_URL,
        }
    settings.CACHES = {"default": {**backend, "KEY_PREFIX": prefix}}
    settings.PARLEY_LIMITS = {**settings.PARLEY_LIMITS, "search": (5, 10)}
    return request.param


def test_the_count_passes_at_once_and_the_next_waits_for_the_oldest_to_age_out(store):
    waits = [limits.wait_for("search", "ada", now=T0 + i * 0.5) for i in range(7)]
    assert waits[:5] == [0, 0, 0, 0, 0]
    assert waits[5] == pytest.approx(10 - 2.5, abs=0.01)  # the first, at T0, frees at T0+10
    assert limits.wait_for("search", "ada", now=T0 + 10.0) == 0


def test_in_any_span_at_most_the_count_pass_wherever_the_span_starts(store):
    passed = [
        T0 + i * 0.25 for i in range(160) if not limits.wait_for("search", "ada", now=T0 + i * 0.25)
    ]
    assert len(passed) >= 15  # it keeps letting the rate through
    for start in passed:
        assert len([t for t in passed if start <= t < start + 10]) <= 5


def test_a_refused_action_spends_nothing_and_people_have_their_own_budgets(store):
    for _ in range(5):
        limits.spend("search", "ada", now=T0)
    refused("rate_limited", limits.spend, "search", "ada", now=T0 + 1)
    assert limits.wait_for("search", "grace", now=T0 + 1) == 0
    assert limits.wait_for("search", "ada", now=T0 + 10.0) == 0


def test_a_cost_of_zero_asks_without_spending(store):
    for _ in range(4):
        assert limits.wait_for("search", "ada", cost=0, now=T0) == 0
        limits.spend("search", "ada", now=T0)
    assert limits.wait_for("search", "ada", cost=0, now=T0) == 0  # the fifth would pass
    limits.spend("search", "ada", now=T0)
    assert limits.wait_for("search", "ada", cost=0, now=T0 + 4) == pytest.approx(6, abs=0.01)
    assert limits.wait_for("search", "ada", cost=0, now=T0 + 10) == 0


def test_a_count_of_zero_turns_a_budget_off(settings):
    settings.PARLEY_LIMITS = {**settings.PARLEY_LIMITS, "search": (0, 10)}
    assert all(limits.wait_for("search", "ada", now=T0) == 0 for _ in range(100))


def test_when_redis_is_down_budgets_hold_in_this_process(settings, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "KEY_PREFIX": uuid.uuid4().hex,
        }
    }
    settings.PARLEY_LIMITS = {**settings.PARLEY_LIMITS, "search": (2, 10)}
    assert [limits.wait_for("search", "ada", now=T0) for _ in range(3)][:2] == [0, 0]
    assert limits.wait_for("search", "ada", now=T0) > 0
    assert "counting in this process only" in caplog.text


@pytest.fixture
def budget_of_one(settings, fresh_cache):
    """Every budget allows one action in a long span."""

    def allow_one():
        settings.PARLEY_LIMITS = {name: (1, 3600) for name in settings.PARLEY_LIMIT_DEFAULTS}

    return allow_one


class TestEveryWritePathHasABudget:
    def test_edits_deletes_and_reactions(self, user, other_user, budget_of_one):
        room = RoomFactory(members=[user, other_user])
        first, second = send(user, room, "one"), send(user, room, "two")
        budget_of_one()
        services.edit_message(user, first.pk, "one!")
        refused("rate_limited", services.edit_message, user, second.pk, "two!")
        services.delete_message(user, first.pk)
        refused("rate_limited", services.delete_message, user, second.pk)
        services.react(user, second.pk, "👍", on=True)
        refused("rate_limited", services.react, user, second.pk, "🎉", on=True)
        second.refresh_from_db()
        assert (second.body, second.deleted_at) == ("two", None)
        assert list(Reaction.objects.values_list("emoji", flat=True)) == ["👍"]

    def test_rooms_direct_rooms_and_room_changes(self, user, other_user, budget_of_one):
        budget_of_one()
        services.create_or_join_room(user, "first")
        refused("rate_limited", services.create_private_room, user, "second")
        refused("rate_limited", services.open_direct, user, other_user.username)
        services.create_or_join_room(user, "first")  # joining what exists creates nothing
        room = Room.objects.get(name="first")
        services.update_room(user, room.pk, topic="hello")
        refused("rate_limited", services.set_room_notify, user, room.pk, "nothing")
        refused("rate_limited", services.set_notify_default, user, "nothing")
        assert list(Room.objects.values_list("name", flat=True)) == ["first"]
        assert Membership.objects.get(user=user).notify == "default"
        user.refresh_from_db()
        assert user.notify_default == "mentions"

    def test_member_changes_reads_and_blocks(self, user, other_user, budget_of_one):
        room = RoomFactory(kind="private", members=[user])
        Membership.objects.filter(user=user).update(role="owner")
        carol = UserFactory(username="carol")
        send(user, room, "one")
        send(user, room, "two")
        budget_of_one()
        services.add_member(user, room.pk, other_user.username)
        refused("rate_limited", services.add_member, user, room.pk, carol.username)
        assert services.mark_read(user, room.pk, 1) == 1
        refused("rate_limited", services.mark_read, user, room.pk, 2)
        services.block_user(user, other_user.username)
        refused("rate_limited", services.unblock_user, user, other_user.username)
        assert not Membership.objects.filter(user=carol).exists()
        assert Membership.objects.get(user=user).last_read_seq == 1

    def test_search_and_history(self, user, budget_of_one):
        room = RoomFactory(members=[user])
        send(user, room, "findable")
        budget_of_one()
        assert queries.search_messages(user, "findable")["results"]
        refused("rate_limited", queries.search_messages, user, "findable")
        assert queries.message_page(user, room.pk)["messages"]
        refused("rate_limited", queries.message_page, user, room.pk)

    def test_typing_past_its_budget_is_dropped_quietly(
        self, user, other_user, budget_of_one, published
    ):
        dm = direct_room(user, other_user)
        room = RoomFactory(members=[user])
        budget_of_one()
        services.typing(user, dm.pk)
        services.typing(user, room.pk)  # another room: past the user's typing budget
        assert [p.frame["room"] for p in published] == [dm.pk]
        assert not Message.objects.exists()
