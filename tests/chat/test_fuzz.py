"""Property tests: for any input a clean error or a valid result, never an exception,
and never a change of state on an error — frames, the socket, and every API endpoint."""

import json
import logging
import uuid

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db.models import Sum
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.errors import ChatError
from chat.models import Attachment, Block, Membership, Message, Reaction, Room
from chat.protocol import frames
from chat.protocol.commands import PARSERS, parse_frame
from tests.factories import RoomFactory, UserFactory, direct_room, send
from tests.wsclient import open_tab

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "room", "body", "client_msg_id", "reply_to", "attachments", "message", "emoji", "on",
    "status", "after", "before", "limit", "changed_after", "seq", "request_id", "name",
    "topic", "kind", "username", "role", "notify",
]  # fmt: skip
field_values = (
    json_values
    | st.integers(min_value=0, max_value=5)
    | st.uuids().map(str)
    | st.sampled_from(["👍", "ada", "grace", "owner", "private", "idle", "\ud800"])
)
objects = st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=6)
frames_as_dicts = st.builds(
    lambda kind, fields: {"type": kind, **fields},
    st.sampled_from([*PARSERS, "nope"]) | st.text(max_size=5),
    objects,
)
frame_texts = (
    frames_as_dicts.map(json.dumps)
    | json_values.map(json.dumps)
    | st.text(max_size=200)
    | frames_as_dicts.map(lambda f: json.dumps(f)[: len(json.dumps(f)) // 2])
)


@FUZZ
@given(frame_texts)
def test_any_frame_parses_to_a_command_or_a_clean_error_that_can_be_sent(text):
    try:
        parse_frame(text)
    except ChatError as error:
        frames.encode(frames.error(error)).encode("utf-8")


def fingerprint() -> tuple:
    """What a refused request must leave exactly as it was."""
    rooms = Room.objects.aggregate(seq=Sum("last_seq"), rev=Sum("last_rev"))
    return (
        tuple(Room.objects.order_by("pk").values_list("pk", "name", "topic", "kind")),
        tuple(
            Membership.objects.order_by("pk").values_list("pk", "role", "last_read_seq", "notify")
        ),
        tuple(Message.objects.order_by("pk").values_list("pk", "body", "rev", "deleted_at")),
        Reaction.objects.count(),
        Block.objects.count(),
        Attachment.objects.count(),
        rooms["seq"],
        rooms["rev"],
    )


@pytest.fixture
def world(db):
    """Two people, a public and a private room and a direct one, with some messages."""
    ada, grace = UserFactory(username="ada"), UserFactory(username="grace")
    public = RoomFactory(name="lobby", members=[ada, grace])
    private = RoomFactory(name="secret", kind="private", members=[grace])
    dm = direct_room(ada, grace)
    for room in (public, dm):
        send(ada, room, "hello")
        send(grace, room, "hi")
    client = Client()
    client.force_login(ada)
    return client, [public.pk, private.pk, dm.pk, 0, 999_999]


ids = st.integers(min_value=0, max_value=12) | st.sampled_from([2**31, 2**63 - 1, 2**64])
names = st.sampled_from(["ada", "grace", "nobody", ""]) | st.text(max_size=12)
ENDPOINTS = [
    ("GET", "/api/rooms/"),
    ("POST", "/api/rooms/"),
    ("POST", "/api/rooms/direct/"),
    ("GET", "/api/rooms/{room}/"),
    ("PATCH", "/api/rooms/{room}/"),
    ("GET", "/api/rooms/{room}/messages"),
    ("POST", "/api/rooms/{room}/messages"),
    ("POST", "/api/rooms/{room}/uploads"),
    ("GET", "/api/rooms/{room}/members/"),
    ("POST", "/api/rooms/{room}/members/"),
    ("PATCH", "/api/rooms/{room}/members/{name}"),
    ("DELETE", "/api/rooms/{room}/members/{name}"),
    ("PATCH", "/api/rooms/{room}/membership"),
    ("POST", "/api/rooms/{room}/read"),
    ("PATCH", "/api/messages/{message}"),
    ("DELETE", "/api/messages/{message}"),
    ("POST", "/api/messages/{message}/reactions"),
    ("GET", "/api/search"),
    ("GET", "/api/blocks/"),
    ("POST", "/api/blocks/"),
    ("DELETE", "/api/blocks/{name}"),
]
queries = st.dictionaries(
    st.sampled_from(["after", "before", "limit", "changed_after", "q", "room"]),
    st.text(max_size=8) | st.integers(min_value=-5, max_value=2**65).map(str),
    max_size=3,
)
bodies = objects.map(json.dumps) | json_values.map(json.dumps) | st.text(max_size=40)


@pytest.mark.django_db
@FUZZ
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    room=st.integers(min_value=0, max_value=4),
    message=ids,
    name=names,
    query=queries,
    body=bodies,
)
def test_every_endpoint_answers_any_input_cleanly_and_an_error_changes_nothing(
    world, endpoint, room, message, name, query, body
):
    client, room_ids = world
    method, template = endpoint
    path = template.format(room=room_ids[room], message=message, name=name.replace("/", ""))
    before = fingerprint()
    if method == "GET":
        response = client.get(path, query)
    else:
        response = client.generic(method, path, body.encode(), content_type="application/json")
    assert response.status_code < 500, (method, path, body, response.content[:200])
    if response.status_code >= 400:
        assert set(response.json()) == {"error"}
        assert fingerprint() == before, (method, path, body)


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frames_sent=st.lists(frame_texts.filter(bool), min_size=1, max_size=25))
def test_any_frames_on_a_socket_get_clean_answers_and_the_socket_lives(frames_sent, caplog):
    """Every answer holds to its schema (the test client checks), the socket still
    answers a ping afterwards, and nothing is logged as an error."""

    async def scenario():
        user = await sync_to_async(UserFactory)()
        await sync_to_async(RoomFactory)(members=[user])
        async with open_tab(user) as tab:
            for text in frames_sent:
                await tab.send(text)
            ping = {"type": "ping", "request_id": uuid.uuid4().hex}
            await tab.send(ping)
            for _ in range(len(frames_sent) * 4 + 10):
                answer = await tab.receive(timeout=5)
                if answer.get("request_id") == ping["request_id"]:
                    return answer
            raise AssertionError("no pong")

    with caplog.at_level(logging.ERROR):
        assert async_to_sync(scenario)()["type"] == "pong"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
