"""The write side: every change to chat state validates, writes in one transaction,
and publishes after commit (`chat.realtime.fanout.publish_on_commit`).

Callers import the package (`services.send_message`); each module holds one concern.
"""

from .cleaning import clean_body, clean_emoji, clean_room_name, clean_topic
from .invites import accept_invite, create_invite, revoke_invite
from .members import add_member, remove_member, set_role
from .messages import delete_message, edit_message, react, typing
from .moderation import (
    moderate_add_member,
    moderate_delete_attachment,
    moderate_delete_message,
    moderate_delete_room,
    moderate_remove_member,
    moderate_room,
    moderate_set_role,
)
from .notifications import set_notify_default, set_room_notify
from .people import remove_person
from .pins import pin_message
from .rooms import (
    block_user,
    blocked_usernames,
    create_or_join_room,
    create_private_room,
    leave_room,
    mark_read,
    open_direct,
    unblock_user,
    update_room,
)
from .sending import SendRequest, send_message, send_messages
from .uploads import clean_stale_uploads, upload_attachment
from .webhooks import create_webhook, moderate_revoke_webhook, post_to_webhook, revoke_webhook

__all__ = [
    "SendRequest",
    "accept_invite",
    "add_member",
    "block_user",
    "blocked_usernames",
    "clean_body",
    "clean_emoji",
    "clean_room_name",
    "clean_stale_uploads",
    "clean_topic",
    "create_invite",
    "create_or_join_room",
    "create_private_room",
    "create_webhook",
    "delete_message",
    "edit_message",
    "leave_room",
    "mark_read",
    "moderate_add_member",
    "moderate_delete_attachment",
    "moderate_delete_message",
    "moderate_delete_room",
    "moderate_remove_member",
    "moderate_revoke_webhook",
    "moderate_room",
    "moderate_set_role",
    "open_direct",
    "pin_message",
    "post_to_webhook",
    "react",
    "remove_member",
    "remove_person",
    "revoke_invite",
    "revoke_webhook",
    "send_message",
    "send_messages",
    "set_notify_default",
    "set_role",
    "set_room_notify",
    "typing",
    "unblock_user",
    "update_room",
    "upload_attachment",
]
