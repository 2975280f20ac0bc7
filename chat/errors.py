"""The errors a client can see, shared by the HTTP API and the WebSocket."""

from http import HTTPStatus

from django.utils.translation import gettext as _

STATUS_BY_CODE = {
    "bad_request": HTTPStatus.BAD_REQUEST,
    "unauthorized": HTTPStatus.UNAUTHORIZED,
    "forbidden": HTTPStatus.FORBIDDEN,
    "not_found": HTTPStatus.NOT_FOUND,
    "not_allowed": HTTPStatus.METHOD_NOT_ALLOWED,
    "too_large": HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    "rate_limited": HTTPStatus.TOO_MANY_REQUESTS,
    "unavailable": HTTPStatus.SERVICE_UNAVAILABLE,
}


class ChatError(Exception):
    """A refusal with a stable `code` for programs and a `detail` for people."""

    def __init__(self, code: str, detail: str, *, client_msg_id: str | None = None):
        if code not in STATUS_BY_CODE:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.client_msg_id = client_msg_id
        # Echoed from the client's frame so it can pair this error with its request.
        self.request_id: str | None = None

    @property
    def status(self) -> int:
        return STATUS_BY_CODE[self.code]


class RoomNotFound(ChatError):
    """Said alike for a room that does not exist and one the caller may not see."""

    def __init__(self, *, client_msg_id: str | None = None):
        super().__init__("not_found", _("No such room."), client_msg_id=client_msg_id)


class MessageNotFound(ChatError):
    """Said alike for a message that does not exist and one in a room the caller may not see."""

    def __init__(self):
        super().__init__("not_found", _("No such message."))


class PersonNotFound(ChatError):
    """Said alike for a username nobody has and an account that was deactivated."""

    def __init__(self):
        super().__init__("not_found", _("No such person."))


class InviteNotFound(ChatError):
    """Said alike for an unknown, expired, used-up or revoked invite link, and one whose
    room is gone: nothing tells whether a room is behind it."""

    def __init__(self):
        super().__init__(
            "not_found", _("This invite link is not valid. It may have expired or been revoked.")
        )


class WebhookNotFound(ChatError):
    """Said alike for an unknown secret, a revoked webhook and one whose bot is no longer
    in its room: nothing tells whether a webhook was ever behind it."""

    def __init__(self):
        super().__init__("not_found", _("No such webhook."))
