"""What tests share beyond fixtures (those are in conftest.py): records and assertions."""

from typing import NamedTuple

import pytest

from chat.errors import ChatError


class Published(NamedTuple):
    """One publish a service made after commit: to a `room`'s or a `user`'s sockets,
    or a `grant`/`revoke` of `room` to a user's sockets (`target` is the room or user id)."""

    to: str
    target: int
    frame: dict
    room: int | None = None

    @property
    def brief(self) -> tuple[str, int, str]:
        return (self.to, self.target, self.frame["type"])


def refused(code: str, call, *args, **kwargs) -> ChatError:
    """Call, expecting a ChatError with this code; the error."""
    with pytest.raises(ChatError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code
    return caught.value
