"""Deleting an account: the person leaves chat (chat.services.remove_person), then the
row goes. Their messages stay where they are, shown as by "Deleted user" (Message.author
is SET_NULL, so no room's seq gets a hole); their reactions, memberships, blocks and
avatar go with them. Their bots are deleted the same way first."""

from functools import partial

from django.db import transaction

from chat import services

from .models import User


def delete_account(user: User) -> None:
    avatar = user.avatar.name
    storage = user.avatar.storage
    with transaction.atomic():
        for bot in User.objects.filter(bot_owner=user):
            delete_account(bot)
        services.remove_person(user)
        user.delete()
        if avatar:
            transaction.on_commit(partial(storage.delete, avatar))
