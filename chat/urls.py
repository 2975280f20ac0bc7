from django.urls import path, register_converter

from .access import MAX_ID
from .http import api, files, hooks, integrations, pages


class IdConverter:
    """A row's id in a path: a number a database id can be. A larger one matches no
    route (a 404), as no row can have it; as an `int` it overflowed the driver (a 500)."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValueError("past what a database id can be")
        return number

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

urlpatterns = [
    path("", pages.home, name="home"),
    path("resume/", pages.resume, name="resume"),
    path("rooms/join/", pages.join, name="join"),
    path("rooms/<id:room_id>/", pages.room, name="room"),
    path("dm/<str:username>/", pages.direct, name="direct"),
    path("invite/<str:token>/", pages.invite, name="invite"),
    path("people/", pages.people, name="people"),
    path("api/schema/", api.schema, name="api-schema"),
    path("api/rooms/", api.rooms, name="api-rooms"),
    path("api/rooms/direct/", api.direct, name="api-direct"),
    path("api/rooms/<id:room_id>/", api.room_detail, name="api-room"),
    path("api/rooms/<id:room_id>/messages", api.messages, name="api-messages"),
    path("api/rooms/<id:room_id>/uploads", api.upload, name="api-uploads"),
    path("api/rooms/<id:room_id>/members/", api.members, name="api-members"),
    path("api/rooms/<id:room_id>/members/<str:username>", api.member, name="api-member"),
    path("api/rooms/<id:room_id>/invites/", api.invites, name="api-invites"),
    path("api/rooms/<id:room_id>/invites/<id:invite_id>", api.invite, name="api-invite"),
    path("api/rooms/<id:room_id>/webhooks/", api.webhooks, name="api-webhooks"),
    path("api/rooms/<id:room_id>/webhooks/<id:webhook_id>", api.webhook, name="api-webhook"),
    path("hooks/<str:secret>", hooks.hook, name="hook"),
    path("api/rooms/<id:room_id>/pins/", api.pins, name="api-pins"),
    path("api/rooms/<id:room_id>/pins/<id:message_id>", api.pin, name="api-pin"),
    path("api/rooms/<id:room_id>/read", api.read, name="api-read"),
    path("api/rooms/<id:room_id>/membership", api.membership, name="api-membership"),
    path("api/messages/<id:message_id>", api.message, name="api-message"),
    path("api/search", api.search, name="api-search"),
    path("api/people/<str:username>", api.person, name="api-person"),
    path("api/blocks/", api.blocks, name="api-blocks"),
    path("api/blocks/<str:username>", api.block, name="api-block"),
    path("api/messages/<id:message_id>/thread", api.thread, name="api-thread"),
    path("api/messages/<id:message_id>/reactions", api.reactions, name="api-reactions"),
    path("api/tokens/", integrations.token_list, name="api-tokens"),
    path("api/tokens/<id:token_id>", integrations.token_detail, name="api-token"),
    path("api/bots/", integrations.bot_list, name="api-bots"),
    path("api/bots/<id:bot_id>", integrations.bot_detail, name="api-bot"),
    path("api/bots/<id:bot_id>/tokens/", integrations.bot_tokens, name="api-bot-tokens"),
    path(
        "api/bots/<id:bot_id>/tokens/<id:token_id>",
        integrations.bot_token,
        name="api-bot-token",
    ),
    # A file's name cannot hold "/", so it never meets the thumbnail's path.
    path("files/<id:attachment_id>/thumb/", files.attachment_thumb, name="attachment-thumb"),
    path("files/<id:attachment_id>/<str:name>", files.attachment_file, name="attachment-file"),
]
