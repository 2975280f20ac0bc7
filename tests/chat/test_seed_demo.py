import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from chat.models import Message, Pin, Room

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_users_rooms_and_messages_and_is_rerunnable():
    call_command("seed_demo")
    call_command("seed_demo")
    assert authenticate(username="ada", password="parley-demo") is not None
    assert set(Room.objects.filter(kind="public").values_list("name", flat=True)) == {
        "general",
        "random",
    }
    assert Room.objects.filter(kind="direct").count() == 1
    assert Message.objects.count() == 10
    general = Room.objects.get(name="general")
    assert list(general.messages.values_list("seq", flat=True)) == [1, 2, 3, 4, 5, 6, 7]
    assert general.members.count() == 4
    assert general.topic.startswith("Say hello")
    reply = general.messages.get(seq=7)
    assert reply.reply_to.seq == 2
    assert reply.mentions.get().username == "grace"
    assert general.messages.get(seq=2).reactions.count() == 3
    # A thread of two replies under the third message, and the welcome pinned.
    root = general.messages.get(seq=3)
    assert list(root.thread_replies.values_list("seq", flat=True)) == [4, 5]
    assert root.thread_count == 2
    assert list(Pin.objects.filter(room=general).values_list("message__seq", flat=True)) == [1]


def test_seed_demo_at_dates_the_messages_a_minute_apart_from_that_time():
    call_command("seed_demo", at="2026-03-02T09:30:00+00:00")
    times = list(Message.objects.order_by("pk").values_list("created_at", flat=True))
    assert [t.isoformat() for t in times[:2]] == [
        "2026-03-02T09:30:00+00:00",
        "2026-03-02T09:31:00+00:00",
    ]
    general = Room.objects.get(name="general")
    assert general.last_message_at == times[6]
    # The thread's summary and the pin are dated with their messages.
    root = general.messages.get(seq=3)
    assert root.thread_last_at == root.thread_replies.get(seq=5).created_at == times[4]
    assert Pin.objects.get(room=general).pinned_at == times[0]
