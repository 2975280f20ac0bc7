"""Invite links (chat.services.invites): who makes and revokes them, and what following one does."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chat import queries, services
from chat.models import Invite, Membership
from chat.queries.invites import token_hash
from chat.services.invites import DAY, MAX_LIVE_PER_ROOM
from tests.factories import RoomFactory, UserFactory, direct_room
from tests.support import Published, refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(user):
    return user


@pytest.fixture
def room(owner, other_user):
    return RoomFactory(name="hideout", kind="private", members=[owner, other_user])


@pytest.fixture
def guest(db):
    return UserFactory(username="guest")


def test_an_owner_makes_a_link_whose_token_is_not_stored(owner, room):
    invite, token = services.create_invite(owner, room.pk)
    assert len(token) >= 32
    stored = Invite.objects.get(pk=invite.pk)
    assert stored.token_hash == token_hash(token) != token
    assert not Invite.objects.filter(token_hash__contains=token).exists()
    assert stored.expires_at - stored.created_at == timedelta(days=7)
    assert (stored.max_uses, stored.uses, stored.revoked_at) == (None, 0, None)
    assert services.create_invite(owner, room.pk)[1] != token


def test_an_admin_may_make_a_link_and_a_plain_member_may_not(owner, other_user, room):
    refused("forbidden", services.create_invite, other_user, room.pk)
    services.set_role(owner, room.pk, other_user.username, "admin")
    assert services.create_invite(other_user, room.pk)[0].room == room


def test_an_outsider_cannot_tell_a_private_room_from_a_missing_one(guest, room):
    error = refused("not_found", services.create_invite, guest, room.pk)
    assert error.detail == refused("not_found", services.create_invite, guest, 10**9).detail


def test_direct_rooms_have_no_links(owner, other_user):
    dm = direct_room(owner, other_user)
    refused("forbidden", services.create_invite, owner, dm.pk)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"expires_in": 5},
        {"expires_in": True},
        {"max_uses": 0},
        {"max_uses": "3"},
        {"max_uses": 1001},
    ],
)
def test_odd_choices_are_refused(owner, room, kwargs):
    refused("bad_request", services.create_invite, owner, room.pk, **kwargs)


def test_a_link_can_be_made_that_never_expires(owner, room):
    invite, _token = services.create_invite(owner, room.pk, expires_in=None, max_uses=5)
    assert (invite.expires_at, invite.max_uses) == (None, 5)


def test_following_a_link_joins_a_private_room_and_the_members_hear_it_live(
    owner, guest, room, published, django_capture_on_commit_callbacks
):
    _invite, token = services.create_invite(owner, room.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.accept_invite(guest, token) == room
    membership = Membership.objects.get(room=room, user=guest)
    assert membership.role == Membership.Role.MEMBER
    assert [p.brief for p in published] == [
        ("grant", guest.pk, "room"),
        ("room", room.pk, "member"),
    ]
    assert published[0].room == room.pk  # the grant: the guest's sockets hear the room from now
    assert published[1] == Published(
        "room",
        room.pk,
        {
            "type": "member",
            "room": room.pk,
            "user": {
                "id": guest.pk,
                "username": "guest",
                "display_name": "Guest",
                "avatar": None,
                "is_bot": False,
            },
            "role": "member",
        },
    )
    assert Invite.objects.get().uses == 1


def test_a_public_room_can_be_joined_by_link_too(owner, guest):
    public = RoomFactory(name="lobby", members=[owner])
    _invite, token = services.create_invite(owner, public.pk)
    assert services.accept_invite(guest, token) == public


def test_a_member_following_the_link_again_spends_no_use(owner, guest, room):
    _invite, token = services.create_invite(owner, room.pk, max_uses=1)
    services.accept_invite(guest, token)
    assert services.accept_invite(guest, token) == room
    assert services.accept_invite(owner, token) == room
    assert Invite.objects.get().uses == 1


def test_a_used_up_link_lets_no_one_else_in(owner, guest, room):
    _invite, token = services.create_invite(owner, room.pk, max_uses=1)
    services.accept_invite(guest, token)
    late = UserFactory(username="late")
    refused("not_found", services.accept_invite, late, token)
    assert not Membership.objects.filter(room=room, user=late).exists()


def test_an_expired_link_lets_no_one_in(owner, guest, room):
    made = timezone.now() - timedelta(days=2)
    _invite, token = services.create_invite(owner, room.pk, expires_in=DAY, now=made)
    refused("not_found", services.accept_invite, guest, token)
    assert services.accept_invite(guest, token, now=made + timedelta(hours=23)) == room


def test_a_revoked_link_lets_no_one_in_and_leaves_the_list(owner, guest, room):
    invite, token = services.create_invite(owner, room.pk)
    assert [i["id"] for i in queries.room_invites(owner, room.pk)["invites"]] == [invite.pk]
    services.revoke_invite(owner, room.pk, invite.pk)
    error = refused("not_found", services.accept_invite, guest, token)
    assert error.detail == refused("not_found", services.accept_invite, guest, "x" * 32).detail
    assert queries.room_invites(owner, room.pk)["invites"] == []
    refused("not_found", services.revoke_invite, owner, room.pk, invite.pk)


def test_a_link_is_revoked_only_through_its_own_room(owner, room):
    invite, _token = services.create_invite(owner, room.pk)
    other_room = RoomFactory(name="mine", members=[owner])
    refused("not_found", services.revoke_invite, owner, other_room.pk, invite.pk)
    assert Invite.objects.get().revoked_at is None


def test_a_plain_member_can_neither_list_nor_revoke(owner, other_user, room):
    invite, _token = services.create_invite(owner, room.pk)
    refused("forbidden", queries.room_invites, other_user, room.pk)
    refused("forbidden", services.revoke_invite, other_user, room.pk, invite.pk)


def test_a_removed_member_comes_back_only_through_a_newer_link(owner, other_user, room):
    _old, old_token = services.create_invite(owner, room.pk)
    services.remove_member(owner, room.pk, other_user.username)
    error = refused("forbidden", services.accept_invite, other_user, old_token)
    assert "removed" in error.detail
    assert not Membership.objects.filter(room=room, user=other_user).exists()
    _new, new_token = services.create_invite(owner, room.pk)
    assert services.accept_invite(other_user, new_token) == room


def test_a_member_who_left_may_follow_an_old_link(owner, other_user, room):
    _invite, token = services.create_invite(owner, room.pk)
    services.leave_room(other_user, room.pk)
    assert services.accept_invite(other_user, token) == room


def test_a_link_to_a_deleted_room_is_like_an_unknown_one(owner, guest, room):
    _invite, token = services.create_invite(owner, room.pk)
    room.delete()
    refused("not_found", services.accept_invite, guest, token)


@pytest.mark.parametrize("token", ["", "short", "a" * 65, "../../etc", None, 7])
def test_malformed_tokens_are_unknown(guest, token):
    refused("not_found", services.accept_invite, guest, token)


def test_a_room_holds_a_bounded_number_of_live_links(owner, room):
    for _ in range(MAX_LIVE_PER_ROOM):
        services.create_invite(owner, room.pk)
    refused("bad_request", services.create_invite, owner, room.pk)


def test_making_and_following_links_spend_budgets(owner, guest, room, settings, fresh_cache):
    settings.PARLEY_LIMITS = {
        **settings.PARLEY_LIMITS,
        "member_change": (2, 600),
        "room_change": (1, 600),
    }
    _invite, token = services.create_invite(owner, room.pk)
    services.create_invite(owner, room.pk)
    refused("rate_limited", services.create_invite, owner, room.pk)
    refused("not_found", services.accept_invite, guest, "z" * 32)
    refused("rate_limited", services.accept_invite, guest, token)
