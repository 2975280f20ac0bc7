"""chat.protocol.frames: the text a new message's event and its sender's ack are built
from (its `message_dict` encoded once) reads exactly as encoding their dicts does."""

import json
import uuid

import pytest

from chat import queries, services
from chat.protocol import frames
from tests.factories import RoomFactory, UserFactory, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def messages():
    """A plain message as the send path returns it (with `encoded`), and read back rich
    ones: a mention with "quotes" and ünïcode, and a reply."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    room = RoomFactory(members=[alice, bob])
    plain = send(alice, room, "plain words")
    first = send(bob, room, 'hi @alice, "quoted" ünïcode ✓')
    reply, _ = services.send_message(alice, room.pk, "answer", str(uuid.uuid4()), reply_to=first.pk)
    read = queries.with_extras(
        list(queries.messages_with_authors().filter(pk__in=[first.pk, reply.pk]))
    )
    return [plain, *read]


def test_the_send_path_keeps_the_new_messages_encoded_text(messages):
    plain = messages[0]
    assert plain.encoded == frames.message_json(plain)
    mention = send(plain.author, plain.room, "hello @bob")  # stored on its own (a mention)
    assert mention.mention_ids and mention.encoded == frames.message_json(mention)


@pytest.mark.parametrize("request_id", [None, 'r-"1"'])
def test_an_ack_from_text_is_the_ack_frame_encoded(messages, request_id):
    for message in messages:
        expected = frames.encode(frames.with_request_id(frames.ack("c-1", message), request_id))
        assert frames.ack_text("c-1", message, request_id) == expected
        assert json.loads(expected)["message"]["id"] == message.pk


def test_a_message_event_from_text_is_the_message_frame_encoded(messages):
    for message in messages:
        expected = frames.encode(frames.message_created(message))
        assert frames.message_created_text(frames.message_json(message)) == expected
