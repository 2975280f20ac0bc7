"""What `default` means in a room (chat.notifications.room_default)."""

import pytest

from chat.notifications import GLOBAL_DEFAULT, room_default


@pytest.mark.parametrize(
    ("kind", "user_default", "level"),
    [
        ("public", "mentions", "mentions"),
        ("private", "all", "all"),
        ("public", "nothing", "nothing"),
        ("direct", "mentions", "all"),
        ("direct", "all", "all"),
        ("direct", "nothing", "nothing"),
    ],
)
def test_default_follows_the_users_default_and_a_direct_room_counts_as_a_mention(
    kind, user_default, level
):
    assert room_default(kind, user_default) == level


def test_the_global_default_is_mentions():
    assert GLOBAL_DEFAULT == "mentions"
