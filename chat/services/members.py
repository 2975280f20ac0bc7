"""Members of a room: join, add, remove, roles, and ownership passed on.

`join`, `drop`, `change_role` and `hand_on_ownership` run inside the caller's
transaction (rooms and moderation use them too) and publish after its commit.
"""

from functools import partial

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Case, When
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import limits
from ..access import room_for_manager, users_named
from ..errors import ChatError
from ..models import Membership, Removal, Room
from ..protocol import frames
from ..queries import room_for_user
from ..realtime.fanout import publish_on_commit


def join(user: AbstractBaseUser, room: Room, role: str = Membership.Role.MEMBER) -> Membership:
    membership, created = Membership.objects.get_or_create(
        room=room, user=user, defaults={"role": role, "last_read_seq": 0}
    )
    if created:
        publish_on_commit(partial(_room_frame, user, room.pk), user=user.pk, grant=room.pk)
        publish_on_commit(frames.member(room.pk, user, membership.role), room=room.pk)
    return membership


def _room_frame(user: AbstractBaseUser, room_id: int) -> dict:
    """The room as the member sees it once the change committed (role, level, unread)."""
    return frames.room(room_for_user(user, room_id))


def _member_room_frame(user_id: int, room_id: int) -> dict:
    return _room_frame(get_user_model().objects.get(pk=user_id), room_id)


def announce_membership(user_id: int, room_id: int) -> None:
    """After commit, the member's sockets get their room again, with its new role or
    notification level."""
    publish_on_commit(partial(_member_room_frame, user_id, room_id), user=user_id)


def add_member(actor: AbstractBaseUser, room_id: int, username: str) -> Membership:
    """An owner or admin adds someone to a group room."""
    limits.spend("member_change", actor.pk)
    with transaction.atomic():
        room, _membership = room_for_manager(actor, room_id, lock=True)
        user = users_named(username).filter(is_active=True).first()
        if user is None:
            raise ChatError("not_found", _("No such user."))
        return join(user, room)


def drop(user: AbstractBaseUser, room: Room) -> None:
    """Inside the caller's transaction: the user leaves; their sockets stop hearing the
    room and the other members hear that they left."""
    Membership.objects.filter(room=room, user=user).delete()
    publish_on_commit(frames.room_removed(room.pk), user=user.pk, revoke=room.pk)
    publish_on_commit(frames.member(room.pk, user, None), room=room.pk)


def _member_named(room: Room, username: str) -> Membership:
    target = (
        Membership.objects.filter(room=room, user__in=users_named(username))
        .select_related("user")
        .first()
    )
    if target is None:
        raise ChatError("not_found", _("That person is not in this room."))
    return target


def remove_member(actor: AbstractBaseUser, room_id: int, username: str) -> None:
    """An owner or admin removes a member; owners can only be removed by owners."""
    limits.spend("member_change", actor.pk)
    with transaction.atomic():
        room, actor_membership = room_for_manager(actor, room_id, lock=True)
        target = _member_named(room, username)
        if target.user_id == actor.pk:
            raise ChatError("bad_request", _("Use leave to leave a room."))
        if target.role == Membership.Role.OWNER and actor_membership.role != Membership.Role.OWNER:
            raise ChatError("forbidden", _("Only an owner may remove an owner."))
        drop(target.user, room)
        note_removal(target.user, room)


def note_removal(user: AbstractBaseUser, room: Room) -> None:
    """Inside the caller's transaction: invite links made before now no longer let the
    removed member back in (chat.access.check_invite)."""
    Removal.objects.update_or_create(room=room, user=user, defaults={"removed_at": timezone.now()})


def set_role(actor: AbstractBaseUser, room_id: int, username: str, role: str) -> Membership:
    """An owner makes a member an admin or an owner, or back; a room keeps an owner."""
    if role not in Membership.Role.values:
        raise ChatError("bad_request", "`role` must be owner, admin or member.")
    limits.spend("member_change", actor.pk)
    with transaction.atomic():
        room, actor_membership = room_for_manager(actor, room_id, lock=True)
        if actor_membership.role != Membership.Role.OWNER:
            raise ChatError("forbidden", _("Only an owner may change roles."))
        target = _member_named(room, username)
        change_role(target, role)
    return target


def change_role(target: Membership, role: str) -> None:
    """Inside the caller's transaction, with the room locked."""
    others = Membership.objects.filter(room_id=target.room_id, role=Membership.Role.OWNER)
    if (
        target.role == Membership.Role.OWNER
        and role != target.role
        and not others.exclude(pk=target.pk).exists()
    ):
        raise ChatError("bad_request", _("A room needs an owner: make someone else owner first."))
    target.role = role
    target.save(update_fields=["role"])
    announce_membership(target.user_id, target.room_id)
    publish_on_commit(frames.member(target.room_id, target.user, role), room=target.room_id)


def hand_on_ownership(room: Room) -> None:
    """A room whose last owner went: an admin, else the longest-standing member, inherits."""
    others = Membership.objects.filter(room=room)
    if others.filter(role=Membership.Role.OWNER).exists():
        return
    rank = Case(When(role=Membership.Role.ADMIN, then=0), default=1)
    heir = others.select_related("user").order_by(rank, "joined_at", "pk").first()
    if heir is not None:
        Membership.objects.filter(pk=heir.pk).update(role=Membership.Role.OWNER)
        announce_membership(heir.user_id, room.pk)
        publish_on_commit(frames.member(room.pk, heir.user, Membership.Role.OWNER), room=room.pk)
