"""chat.protocol.frames: the text a new message's event and its sender's ack are built
from (`message_json`, written field by field and once) reads exactly as encoding their
dicts does, for every kind of message and person."""

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.models import User
from chat import queries, services
from chat.models import Attachment, Message
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


# Any message, unsaved (no database): every field message_dict reads, each varied.

texts = st.text(max_size=12)
ids = st.integers(min_value=1, max_value=2**53)
moments = st.builds(
    lambda at, zone: at.replace(tzinfo=UTC).astimezone(zone),
    st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2999, 1, 1)),
    st.sampled_from([UTC, ZoneInfo("UTC"), timezone(timedelta(hours=-5)), ZoneInfo("Asia/Tokyo")]),
)
file_names = st.text(st.characters(exclude_characters="/"), min_size=1, max_size=12)
people = st.none() | st.builds(
    User,
    pk=ids,
    username=texts,
    display_name=texts,
    avatar=st.sampled_from(["", "avatars/1/me.png", 'avatars/2/"ä b".png']),
    is_bot=st.booleans(),
)


@st.composite
def any_messages(draw) -> Message:
    def message(**fields) -> Message:
        made = Message(
            pk=draw(ids), room_id=draw(ids), seq=draw(ids), body=draw(texts), html=draw(texts),
            deleted_at=draw(st.none() | moments), **fields,
        )  # fmt: skip
        made.author = draw(people)
        return made

    parent = message(created_at=None) if draw(st.booleans()) else None
    made = message(
        created_at=draw(moments),
        client_msg_id=draw(st.uuids() | st.uuids().map(str)),
        edited_at=draw(st.none() | moments),
        rev=draw(st.integers(min_value=0, max_value=2**40)),
        thread_root_id=draw(st.none() | ids),
        also_in_room=draw(st.booleans()),
        via=draw(st.none() | texts),
        thread_count=draw(st.integers(min_value=0, max_value=3)),
        thread_last_seq=draw(ids),
        thread_last_at=draw(st.none() | moments),
    )
    made.reply_to_id = parent.pk if parent else None
    if parent:
        made.reply_to = parent
    made.mention_ids = draw(st.lists(ids, max_size=3))
    made.reaction_summary = draw(
        st.lists(
            st.fixed_dictionaries({"emoji": texts, "count": ids, "me": st.booleans()}), max_size=2
        )
    )
    made.attachment_list = draw(
        st.lists(
            st.builds(
                Attachment, pk=ids, name=file_names,
                size=ids, content_type=texts, thumbnail=st.sampled_from(["", "thumbs/1.png"]),
                width=st.none() | ids, height=st.none() | ids,
            ),
            max_size=2,
        )
    )  # fmt: skip
    made.replier_list = draw(st.lists(people.filter(bool), max_size=2))
    return made


@settings(max_examples=300, deadline=None)
@given(any_messages())
def test_a_message_written_field_by_field_reads_as_its_dict_encoded(message):
    assert frames.message_json(message) == frames.encode(frames.message_dict(message))


@settings(max_examples=100, deadline=None)
@given(people)
def test_a_person_written_field_by_field_reads_as_their_dict_encoded(person):
    assert frames.user_json(person) == frames.encode(frames.user_dict(person))


@given(moments)
def test_a_time_is_utc_with_a_z(moment):
    text = frames.iso_utc(moment)
    assert text.endswith("Z") and "+" not in text
    assert datetime.fromisoformat(text) == moment
