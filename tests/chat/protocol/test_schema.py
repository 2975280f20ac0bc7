"""The frame schemas: one for every frame docs/protocol.md lists, every frame that
frames.py builds fits its schema, and a frame that breaks the contract is refused.

(That every frame a test socket receives is checked is tests/wsclient.py's part.)
"""

import ast
import copy
import re
import time
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from jsonschema import Draft202012Validator, ValidationError

from chat import queries, services
from chat.errors import ChatError
from chat.models import Room
from chat.protocol import frames
from chat.protocol.schema import FRAMES, REPLIES, SHAPES, check_frame, schema_for
from tests.factories import RoomFactory, UserFactory, direct_room, send, upload
from tests.wsclient import Tab

ROOT = Path(__file__).resolve().parents[3]
PROTOCOL = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")


def doc_section(heading: str) -> str:
    """The text under a `### heading`, up to the next heading of any level."""
    after = PROTOCOL.split(f"\n### {heading}\n", 1)[1]
    return re.split(r"\n#{2,3} ", after, maxsplit=1)[0]


def documented_frame_types() -> list[str]:
    """The `type` of each row of the doc's server → client table."""
    return re.findall(r'^\| `\{"type": "([^"]+)"', doc_section("Server → client"), re.M)


def documented_error_codes() -> list[str]:
    return re.findall(r"^\| `([a-z_]+)` \| \d{3} \|", PROTOCOL, re.M)


def documented_replies() -> set[str]:
    """The frames the doc says carry back a client's `request_id`."""
    sentence = re.search(r"copies into the frame answering it \(([^)]*)\)", PROTOCOL, re.S)
    return set(re.findall(r"`([a-z.]+)`", sentence[1]))


def types_built_in_frames_py() -> set[str]:
    """Every `"type": "…"` in a dict literal of chat/protocol/frames.py."""
    tree = ast.parse((ROOT / "chat" / "protocol" / "frames.py").read_text(encoding="utf-8"))
    return {
        value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key, value in zip(node.keys, node.values, strict=True)
        if isinstance(key, ast.Constant) and key.value == "type" and isinstance(value, ast.Constant)
    }


class TestOneSchemaPerDocumentedFrame:
    def test_every_documented_frame_has_a_schema_and_every_schema_is_documented(self):
        documented = documented_frame_types()
        assert len(documented) == len(set(documented)) >= 15
        assert set(documented) - set(FRAMES) == set(), "documented frames without a schema"
        assert set(FRAMES) - set(documented) == set(), "schemas of frames the doc does not list"

    def test_frames_py_builds_exactly_the_frames_with_a_schema(self):
        assert types_built_in_frames_py() == set(FRAMES)

    def test_error_codes_and_request_id_replies_are_the_documented_ones(self):
        assert FRAMES["error"]["properties"]["code"]["enum"] == sorted(documented_error_codes())
        assert documented_replies() == REPLIES
        for kind, schema in FRAMES.items():
            assert ("request_id" in schema["properties"]) == (kind in REPLIES), kind

    @pytest.mark.parametrize("kind", list(FRAMES))
    def test_each_schema_is_valid_json_schema(self, kind):
        Draft202012Validator.check_schema(schema_for(kind))

    def test_every_object_with_fields_allows_no_others(self):
        def objects(node):
            if isinstance(node, dict):
                if "properties" in node and node.get("type") == "object":
                    yield node
                for value in node.values():
                    yield from objects(value)
            elif isinstance(node, list):
                for value in node:
                    yield from objects(value)

        found = list(objects([FRAMES, SHAPES]))
        assert len(found) > len(FRAMES)
        assert all(schema["additionalProperties"] is False for schema in found)


@pytest.fixture
def built(db) -> list[tuple[str, dict]]:
    """At least one frame of every type, from frames.py's builders on real rows:
    rich messages (mention, reply, reactions, an image and a file, an edit, a "via"), a
    tombstone, a deleted author, direct rooms with a present and a deleted peer, a room
    with a notification level of its own, pins (one by and of a deleted user)."""
    alice, bob, carol, dave = (UserFactory(username=n) for n in ("alice", "bob", "carol", "dave"))
    alice.avatar.name = f"avatars/{alice.pk}/face.png"  # the URL is all a frame carries
    alice.save(update_fields=["avatar"])
    general = RoomFactory(name="general", members=[alice, bob, carol])
    lobby = RoomFactory(name="lobby", members=[bob])
    dm = direct_room(alice, bob)
    gone_dm = direct_room(alice, dave)
    services.set_room_notify(alice, gone_dm.pk, "nothing")

    first = send(bob, general, "hello @alice")
    files = [
        upload(alice, general).pk,
        services.upload_attachment(
            alice, general.pk, SimpleUploadedFile("notes.txt", b"plain words", "text/plain")
        ).pk,
    ]
    cid = str(uuid.uuid4())
    rich, _ = services.send_message(
        alice, general.pk, "see *this*", cid, reply_to=first.pk, attachments=tuple(files)
    )
    reacted = services.react(bob, rich.pk, "👍", on=True)
    edited = services.edit_message(alice, rich.pk, "see *this*, edited")
    doomed = send(alice, general, "first line\nsecond line")
    services.send_message(bob, general.pk, "re", str(uuid.uuid4()), reply_to=doomed.pk)
    services.send_message(carol, general.pk, "from a webhook", str(uuid.uuid4()), via="deployer")
    services.pin_message(alice, general.pk, first.pk, on=True)
    services.pin_message(alice, general.pk, rich.pk, on=True)
    services.pin_message(alice, general.pk, doomed.pk, on=True)
    deleted = services.delete_message(alice, doomed.pk)  # and unpinned
    by_carol = send(carol, general, "from an account about to go")
    services.set_role(alice, general.pk, "carol", "admin")
    services.pin_message(carol, general.pk, by_carol.pk, on=True)
    dm_note = send(bob, dm, "in a direct room")
    pinned_in_dm = services.pin_message(bob, dm.pk, dm_note.pk, on=True)
    thread_reply, _ = services.send_message(
        bob, general.pk, "in a thread", str(uuid.uuid4()), thread_root=first.pk, also_in_room=True
    )
    thread_root = queries.with_extras([queries.messages_with_authors().get(pk=first.pk)])[0]
    left = dave.pk
    carol.delete()
    dave.delete()
    general.refresh_from_db()

    def page(**cursor):
        full = {"after": None, "before": None, "changed_after": None, **cursor}
        return frames.messages(queries.message_page(alice, general.pk, **cursor), **full)

    offline_since = time.time() - 60
    people = {bob.pk: {"status": "online", "last_seen": None},
              left: {"status": "offline", "last_seen": offline_since}}  # fmt: skip
    error = ChatError("not_found", "No such room.", client_msg_id=cid)
    error.request_id = "r9"
    return [
        ("hello", frames.hello(alice, queries.rooms_for_user(alice), people)),
        ("ack", frames.ack(cid, rich)),
        ("message", frames.message_created(rich)),
        ("page after", frames.with_request_id(page(after=0), "r1")),
        ("page before", page(before=3)),
        ("newest page", page()),
        ("changes", page(changed_after=0)),
        ("pong", frames.pong()),
        ("pong with request_id", frames.with_request_id(frames.pong(), "r2")),
        ("heads", frames.heads({general.pk: general.last_seq, dm.pk: 0})),
        ("group room", frames.room(queries.room_for_user(alice, general.pk))),
        ("public room not joined", frames.room(queries.room_for_user(alice, lobby.pk))),
        ("direct room", frames.room(queries.room_for_user(alice, dm.pk))),
        ("direct room, peer gone", frames.room(queries.room_for_user(alice, gone_dm.pk))),
        ("room.updated", frames.room_updated(Room.objects.get(pk=general.pk))),
        ("member joined", frames.member(general.pk, bob, "member")),
        ("member left", frames.member(general.pk, bob, None)),
        ("room.removed", frames.room_removed(lobby.pk)),
        ("read", frames.read(general.pk, alice.pk, 2)),
        ("message.updated", frames.message_updated(edited)),
        ("thread reply", frames.message_created(thread_reply)),
        ("thread summary", frames.message_updated(thread_root)),
        ("message.deleted", frames.message_deleted(deleted)),
        ("reaction", reacted),
        ("reaction taken back", frames.reaction(rich, bob.pk, "👍", on=False)),
        ("online", frames.presence(bob.pk, "online", None)),
        ("offline", frames.presence(bob.pk, "offline", offline_since)),
        ("typing", frames.typing(general.pk, alice)),
        ("pins", frames.pins(general.pk, queries.room_pins(general.pk))),
        ("pins in a direct room", frames.with_request_id(pinned_in_dm, "r3")),
        ("no pins", frames.pins(lobby.pk, [])),
        ("error", frames.error(error)),
        ("bare error", frames.error(ChatError("bad_request", "The frame is not valid JSON."))),
    ]


class TestEveryBuilderFitsItsSchema:
    def test_every_frame_built_from_real_rows_is_accepted(self, built):
        refused = {}
        for label, frame in built:
            try:
                check_frame(frame)
            except ValidationError as error:
                refused[label] = error.message
        assert refused == {}

    def test_the_frames_built_cover_every_type_and_every_shape(self, built):
        assert {frame["type"] for _label, frame in built} == set(FRAMES)
        text = repr(dict(built))
        for sample in ("'thumb_url': None", "'thumb_url': '/files/", "'id': None",
                       "'deleted': True", "'peer': {'id': None", "'role': None",
                       "'notify': 'default'", "'notify': 'nothing'",
                       "'notify_default': 'all'", "'notify_default': 'mentions'",
                       "'avatar': None", "'avatar': '/media/avatars/",
                       "'pinned_by': {'id': None",
                       "'also_in_room': True", "'thread': {'replies': 1"):  # fmt: skip
            assert sample in text, sample

    def test_rooms_carry_their_pins_newest_first_and_a_deleted_message_is_unpinned(self, built):
        pins = dict(built)["group room"]["room"]["pins"]
        excerpts = [pin["message"]["excerpt"] for pin in pins]
        assert excerpts == ["from an account about to go", "see this, edited", "hello @alice"]
        assert pins[0]["message"]["author"]["id"] is None
        assert dict(built)["pins"]["pins"] == pins
        hello_rooms = {room["id"]: room for room in dict(built)["hello"]["rooms"]}
        assert hello_rooms[dict(built)["group room"]["room"]["id"]]["pins"] == pins

    def test_times_are_iso_utc_with_z_everywhere(self, built):
        frame = dict(built)["group room"]
        assert frame["room"]["last_message_at"].endswith("Z")
        assert "+00:00" not in repr(dict(built))


def message_frame(built) -> dict:
    return copy.deepcopy(dict(built)["message.updated"])


def attachment_of(frame: dict, content_type: str) -> dict:
    return next(a for a in frame["message"]["attachments"] if a["content_type"] == content_type)


# Each breaks a valid `message.updated` frame (with a reply, a reaction, an image and a text file).
BREAKAGES = {
    "unknown type": lambda f: f.update(type="message.new"),
    "no type": lambda f: f.pop("type"),
    "extra field": lambda f: f.update(extra=1),
    "extra nested field": lambda f: f["message"]["author"].update(email="a@example.com"),
    "missing field": lambda f: f["message"].pop("seq"),
    "missing nested field": lambda f: f["message"]["reply_to"].pop("excerpt"),
    "string for an integer": lambda f: f["message"].update(seq="1"),
    "float for an integer": lambda f: f["message"].update(seq=1.0),
    "boolean for an integer": lambda f: f["message"].update(room=True),
    "integer for a boolean": lambda f: f["message"].update(deleted=0),
    "null where none is allowed": lambda f: f["message"].update(created_at=None),
    "a time with +00:00": lambda f: f["message"].update(
        created_at=f["message"]["created_at"].replace("Z", "+00:00")
    ),
    "a time without a zone": lambda f: f["message"].update(
        created_at=f["message"]["created_at"].rstrip("Z")
    ),
    "a client_msg_id that is no UUID": lambda f: f["message"].update(client_msg_id="nope"),
    "a tombstone with its text": lambda f: f["message"].update(deleted=True),
    "half a deleted user": lambda f: f["message"]["author"].update(id=None),
    "an avatar that is no address": lambda f: f["message"]["author"].update(avatar="javascript:1"),
    "a user without the avatar field": lambda f: f["message"]["author"].pop("avatar"),
    "a reaction nobody made": lambda f: f["message"]["reactions"][0].update(count=0, users=[]),
    "a file with a thumbnail": lambda f: attachment_of(f, "text/plain").update(
        thumb_url="/files/1/thumb/"
    ),
    "an image without its size": lambda f: attachment_of(f, "image/png").update(width=None),
    "a room message also in the room": lambda f: f["message"].update(also_in_room=True),
    "a thread reply with a thread of its own": lambda f: f["message"].update(
        thread_root=1,
        thread={
            "replies": 1,
            "last_reply_seq": 2,
            "last_reply_at": f["message"]["created_at"],
            "repliers": [],
        },
    ),
    "a thread summary of no replies": lambda f: f["message"].update(
        thread={
            "replies": 0,
            "last_reply_seq": 2,
            "last_reply_at": f["message"]["created_at"],
            "repliers": [],
        },
    ),
    "a request_id on a frame that answers nothing": lambda f: f.update(
        type="message", request_id="r1"
    ),
}


class TestBrokenFramesAreRefused:
    def test_the_unbroken_frame_is_accepted(self, built):
        frame = message_frame(built)
        assert frame["message"]["author"]["avatar"].endswith("/face.png")
        assert frame["message"]["reactions"] and frame["message"]["reply_to"]
        assert len(frame["message"]["attachments"]) == 2
        assert check_frame(frame) == frame

    @pytest.mark.parametrize("breakage", list(BREAKAGES))
    def test_a_broken_frame_is_refused(self, built, breakage):
        frame = message_frame(built)
        BREAKAGES[breakage](frame)
        with pytest.raises(ValidationError):
            check_frame(frame)

    @pytest.mark.parametrize("not_a_frame", [None, [], "pong", {"type": 5}, {"type": "ping"}])
    def test_what_is_no_server_frame_is_refused(self, not_a_frame):
        with pytest.raises(ValidationError):
            check_frame(not_a_frame)


# Each breaks a valid `room` frame: the levels are a closed set, and a room's default is
# always resolved to a level.
ROOM_BREAKAGES = {
    "an unknown level": lambda room: room.update(notify="loud"),
    "a default left unresolved": lambda room: room.update(notify_default="default"),
    "no level": lambda room: room.pop("notify"),
    "the old mute flag": lambda room: room.update(muted=True),
}


# Each breaks a valid `pins` frame.
PIN_BREAKAGES = {
    "a pinned tombstone": lambda f: f["pins"][0]["message"].update(deleted=True),
    "no pinner": lambda f: f["pins"][0].pop("pinned_by"),
    "a time without a zone": lambda f: f["pins"][0].update(pinned_at="2026-01-01T00:00:00"),
    "more than the cap": lambda f: f["pins"].extend(f["pins"] * 50),
    "no room": lambda f: f.pop("room"),
}


@pytest.mark.parametrize("breakage", list(PIN_BREAKAGES))
def test_a_broken_pins_frame_is_refused(built, breakage):
    frame = copy.deepcopy(dict(built)["pins"])
    check_frame(frame)
    PIN_BREAKAGES[breakage](frame)
    with pytest.raises(ValidationError):
        check_frame(frame)


@pytest.mark.parametrize("breakage", list(ROOM_BREAKAGES))
def test_a_room_with_a_broken_notification_level_is_refused(built, breakage):
    frame = copy.deepcopy(dict(built)["group room"])
    check_frame(frame)
    ROOM_BREAKAGES[breakage](frame["room"])
    with pytest.raises(ValidationError):
        check_frame(frame)


class OneFrame:
    """A communicator that has one text frame to give."""

    def __init__(self, text: str):
        self.text = text

    async def receive_from(self, timeout: float) -> str:
        return self.text


async def test_the_test_client_checks_every_frame_it_receives():
    assert await Tab(OneFrame('{"type": "pong", "request_id": "r1"}')).receive() == {
        "type": "pong",
        "request_id": "r1",
    }
    with pytest.raises(ValidationError):
        await Tab(OneFrame('{"type": "pong", "extra": 1}')).receive()
