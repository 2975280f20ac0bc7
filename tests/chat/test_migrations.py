"""Data migrations: what a database held before keeps its meaning after."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import RoomFactory, UserFactory

BEFORE = [("chat", "0006_attachment")]
AFTER = [("chat", "0007_membership_notify")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_a_muted_room_becomes_a_room_at_nothing_and_back():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    room = RoomFactory(name="general", members=[alice, bob])
    try:
        old = migrate(BEFORE).get_model("chat", "Membership")
        old.objects.filter(room_id=room.pk, user_id=alice.pk).update(muted=True)

        new = migrate(AFTER).get_model("chat", "Membership")
        levels = dict(new.objects.filter(room_id=room.pk).values_list("user_id", "notify"))
        assert levels == {alice.pk: "nothing", bob.pk: "default"}

        old = migrate(BEFORE).get_model("chat", "Membership")
        muted = dict(old.objects.filter(room_id=room.pk).values_list("user_id", "muted"))
        assert muted == {alice.pk: True, bob.pk: False}
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
