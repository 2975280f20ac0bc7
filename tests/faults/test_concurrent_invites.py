"""A concurrency test: people following a one-use invite link at the same moment, each on
its own database connection. The link's row is locked (SELECT … FOR UPDATE) and the use
counted by a conditional UPDATE, so exactly one of them gets in and the link counts one
use. (The window is short: with the lock alone removed this passed too, so it guards
the counting as a whole rather than the lock in particular.)"""

import threading
import traceback

import pytest
from django.db import connection

from chat import services
from chat.errors import ChatError
from chat.models import Invite, Membership
from tests.factories import RoomFactory, UserFactory

PEOPLE = 6
JOIN_TIMEOUT = 60


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_one_use_link_followed_at_once_by_several_people_lets_exactly_one_in(published):
    owner = UserFactory(username="owner")
    room = RoomFactory(name="hideout", kind="private", members=[owner])
    _invite, token = services.create_invite(owner, room.pk, max_uses=1)
    people = [UserFactory(username=f"guest{i}") for i in range(PEOPLE)]
    start = threading.Barrier(PEOPLE)
    outcomes: dict[int, str] = {}
    errors: list[str] = []

    def follow(index: int) -> None:
        try:
            start.wait(timeout=10)
            try:
                services.accept_invite(people[index], token)
                outcomes[index] = "joined"
            except ChatError as error:
                outcomes[index] = error.code
        except BaseException:
            errors.append(traceback.format_exc())
            start.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=follow, args=(i,)) for i in range(PEOPLE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT)
    assert not [thread for thread in threads if thread.is_alive()]
    assert errors == []
    assert sorted(outcomes.values()) == ["joined"] + ["not_found"] * (PEOPLE - 1)
    assert Invite.objects.get().uses == 1
    assert Membership.objects.filter(room=room).count() == 2
