"""A person leaving chat for good (their account is deleted): what the rooms hear.

`remove_person` runs inside the caller's transaction, before the account's row goes, and
publishes after its commit, as every service does.
"""

from itertools import groupby

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import F

from ..models import Membership, Message, Reaction, Room
from ..protocol import frames
from ..realtime.fanout import publish_on_commit
from . import sql
from .members import drop, hand_on_ownership


def remove_person(user: AbstractBaseUser) -> None:
    """The user's reactions are taken back and they leave every room, direct ones too:
    each room's members hear it as they would a reaction taken back and a member leaving,
    a room whose last owner this was passes to its heir (members.hand_on_ownership), and
    the user's own sockets stop hearing every room. Their messages are not touched.

    Every room concerned is locked first, in id order, so two of these at once cannot
    deadlock; a room that loses its last member stays, as when its last member leaves.
    """
    reactions = Reaction.objects.filter(user=user).annotate(room_id=F("message__room_id"))
    memberships = list(Membership.objects.filter(user=user).order_by("room_id"))
    room_ids = {m.room_id for m in memberships} | set(reactions.values_list("room_id", flat=True))
    rooms = {
        room.pk: room
        for room in Room.objects.select_for_update().filter(pk__in=room_ids).order_by("pk")
    }
    by_message = reactions.order_by("room_id", "message_id", "pk")
    for message_id, taken in groupby(by_message, key=lambda reaction: reaction.message_id):
        taken = list(taken)
        message = Message(pk=message_id, room_id=taken[0].room_id)
        Reaction.objects.filter(pk__in=[reaction.pk for reaction in taken]).delete()
        rev = sql.take_next_rev(message.room_id)
        Message.objects.filter(pk=message_id).update(rev=rev)
        for reaction in taken:
            frame = frames.reaction(message, user.pk, reaction.emoji, on=False)
            publish_on_commit(frame, room=message.room_id)
    for membership in memberships:
        room = rooms[membership.room_id]
        drop(user, room)
        if membership.role == Membership.Role.OWNER:
            hand_on_ownership(room)
