"""Initial state plus the live events a client applies equals a fresh client's state.

A watcher tab applies every event it hears (message, message.updated,
message.deleted, reaction, read) to what its hello and first fetch gave it; after
a burst of sends, thread replies, edits, deletions, reactions and reads from other
tabs, its view must equal what a tab connecting afresh reads from the database. A tab
that was away catches up (by seq, then by rev) to the same state, threads included.
Likewise its list of rooms, after renames, invitations, removals, role changes,
notification settings (a room's level, the user's default) and pins (pinned, unpinned,
a pinned message edited or deleted).
"""

import uuid

import pytest
from asgiref.sync import sync_to_async

from chat import services
from tests.factories import RoomFactory, UserFactory
from tests.wsclient import open_tab

pytestmark = pytest.mark.django_db(transaction=True)

COMPARED = (
    "seq", "body", "html", "deleted", "edited_at", "reactions", "mentions", "reply_to",
    "thread_root", "also_in_room", "thread",
)  # fmt: skip


class View:
    """A client's model of one room, built from hello, a fetch and live events."""

    def __init__(self, me: int, room: dict, messages: list[dict]):
        self.me = me
        self.last_read_seq = room["last_read_seq"]
        self.messages = {m["id"]: m for m in messages}

    def apply(self, frame: dict) -> None:
        match frame["type"]:
            case "message" | "message.updated":
                self.messages[frame["message"]["id"]] = frame["message"]
            case "message.deleted":
                message = self.messages[frame["id"]]
                message.update(
                    deleted=True, body="", html="", reactions=[], mentions=[], edited_at=None
                )
            case "reaction":
                self._react(frame)
            case "read" if frame["user"] == self.me:
                self.last_read_seq = max(self.last_read_seq, frame["seq"])

    def _react(self, frame: dict) -> None:
        reactions = self.messages[frame["message"]]["reactions"]
        entry = next((r for r in reactions if r["emoji"] == frame["emoji"]), None)
        if frame["on"]:
            if entry is None:
                reactions.append(entry := {"emoji": frame["emoji"], "count": 0, "users": []})
            if frame["user"] not in entry["users"]:
                entry["users"].append(frame["user"])
        elif entry is not None and frame["user"] in entry["users"]:
            entry["users"].remove(frame["user"])
        if entry is not None:
            entry["count"] = len(entry["users"])
            if not entry["count"]:
                reactions.remove(entry)

    def unread(self) -> int:
        """As the server counts: a thread reply the timeline hides only if it mentions me."""
        return sum(
            1
            for m in self.messages.values()
            if m["seq"] > self.last_read_seq
            and not m["deleted"]
            and m["author"]["id"] != self.me
            and (m["thread_root"] is None or m["also_in_room"] or self.me in m["mentions"])
        )

    def state(self) -> list[dict]:
        return [
            {k: m[k] for k in COMPARED if k != "edited_at" or not m["deleted"]}
            for m in sorted(self.messages.values(), key=lambda m: m["seq"])
        ]


async def fetch_all(tab, room_id: int) -> list[dict]:
    fetch = {"type": "fetch", "room": room_id, "after": 0, "limit": 200}
    return (await tab.request(fetch, "messages"))["messages"]


async def apply_everything(tab, view: View, quiet: float = 0.5) -> None:
    """Apply every frame the tab has received, in order, until it goes quiet."""
    while not await tab.nothing(quiet):
        view.apply(await tab.receive())


def send(room_id: int, body: str, **extra) -> dict:
    return {"type": "send", "room": room_id, "body": body, "client_msg_id": str(uuid.uuid4()),
            **extra}  # fmt: skip


async def test_a_client_applying_live_events_ends_where_a_fresh_client_starts():
    alice, bob, carol = [
        await sync_to_async(UserFactory)(username=n) for n in ("alice", "bob", "carol")
    ]
    room = await sync_to_async(RoomFactory)(name="general", members=[alice, bob, carol])
    async with open_tab(bob) as watcher, open_tab(alice) as a, open_tab(carol) as c:
        [hello_room] = watcher.hello["rooms"]
        view = View(bob.pk, hello_room, await fetch_all(watcher, room.pk))

        sent = []
        for n, tab in enumerate([a, c, a, c, a, a]):
            body = f"message {n} for @bob" if n % 2 else f"message {n}"
            sent.append((await tab.request(send(room.pk, body), "ack"))["message"])
        edit = {"type": "edit", "message": sent[0]["id"], "body": "first, *edited*"}
        await a.request(edit, "message.updated")
        await a.request({"type": "delete", "message": sent[2]["id"]}, "message.deleted")
        for tab, message, emoji, on in [
            (c, sent[4], "👍", True),
            (a, sent[4], "👍", True),
            (c, sent[4], "👍", False),
            (c, sent[5], "🎉", True),
        ]:
            react = {"type": "react", "message": message["id"], "emoji": emoji, "on": on}
            await tab.request(react, "reaction")
        await c.request(send(room.pk, "re", reply_to=sent[1]["id"]), "ack")
        for tab, body, extra in [
            (c, "in thread", {}),
            (a, "thread, @bob", {}),
            (c, "thread and room", {"also_in_room": True}),
            (a, "gone soon", {}),
        ]:
            frame = send(room.pk, body, thread_root=sent[4]["id"], **extra)
            sent.append((await tab.request(frame, "ack"))["message"])
        await a.request({"type": "delete", "message": sent[-1]["id"]}, "message.deleted")
        async with open_tab(bob) as other_tab:
            await other_tab.send({"type": "read", "room": room.pk, "seq": 3})
            await other_tab.receive_type("read")
        await apply_everything(watcher, view)

    async with open_tab(bob) as fresh:
        [fresh_room] = fresh.hello["rooms"]
        fresh_view = View(bob.pk, fresh_room, await fetch_all(fresh, room.pk))
    assert view.state() == fresh_view.state()
    assert view.last_read_seq == fresh_room["last_read_seq"] == 3
    assert view.unread() == fresh_room["unread"] == 6  # 4, 5, 6, the reply, 2 thread replies
    assert fresh_room["unread_mentions"] == 3  # 3, 5 and a reply mention bob; 1 is read
    root = fresh_view.messages[sent[4]["id"]]
    assert root["thread"]["replies"] == 3
    assert [u["id"] for u in root["thread"]["repliers"]] == [carol.pk, alice.pk]


async def test_a_client_that_was_away_catches_up_on_threads_by_seq_and_rev():
    alice, bob = [await sync_to_async(UserFactory)(username=n) for n in ("alice", "bob")]
    room = await sync_to_async(RoomFactory)(name="general", members=[alice, bob])
    async with open_tab(bob) as away, open_tab(alice) as a:
        root = (await a.request(send(room.pk, "root"), "ack"))["message"]
        await a.request(send(room.pk, "first reply", thread_root=root["id"]), "ack")
        await away.receive_type("message.updated")
        [hello_room] = away.hello["rooms"]
        view = View(bob.pk, hello_room, await fetch_all(away, room.pk))
        held_seq, held_rev = 2, (await fetch_all(away, room.pk))[0]["rev"]
    async with open_tab(alice) as a:
        for body in ("second reply", "third, @bob"):
            await a.request(send(room.pk, body, thread_root=root["id"]), "ack")
    async with open_tab(bob) as back:
        [room_now] = back.hello["rooms"]
        fetch = {"type": "fetch", "room": room.pk, "after": held_seq}
        for message in (await back.request(fetch, "messages"))["messages"]:
            view.apply({"type": "message", "message": message})
        assert room_now["last_rev"] > held_rev
        changes = {"type": "fetch", "room": room.pk, "changed_after": held_rev}
        for message in (await back.request(changes, "messages"))["messages"]:
            view.apply({"type": "message.updated", "message": message})
        fresh_view = View(bob.pk, room_now, await fetch_all(back, room.pk))
    assert view.state() == fresh_view.state()
    assert view.messages[root["id"]]["thread"]["replies"] == 3
    assert view.unread() == room_now["unread"] == 2  # the root, and the reply that mentions bob


ROOM_FIELDS = ("name", "kind", "topic", "role", "notify", "notify_default", "pins")


class RoomList:
    """A client's sidebar, built from hello and the room events it hears."""

    def __init__(self, hello: dict):
        self.rooms = {room["id"]: room for room in hello["rooms"]}

    def apply(self, frame: dict) -> None:
        match frame["type"]:
            case "room":
                self.rooms[frame["room"]["id"]] = frame["room"]
            case "room.updated":
                self.rooms[frame["room"]].update(name=frame["name"], topic=frame["topic"])
            case "room.removed":
                self.rooms.pop(frame["room"], None)
            case "pins":
                self.rooms[frame["room"]]["pins"] = frame["pins"]

    def state(self) -> dict[int, tuple]:
        return {
            room_id: tuple(repr(room[f]) for f in ROOM_FIELDS)
            for room_id, room in self.rooms.items()
        }


async def test_a_client_applying_room_events_lists_the_rooms_a_fresh_client_lists():
    alice, bob, carol = [
        await sync_to_async(UserFactory)(username=n) for n in ("alice", "bob", "carol")
    ]
    general = await sync_to_async(RoomFactory)(name="general", members=[alice, bob])
    side = await sync_to_async(RoomFactory)(name="side", kind="private", members=[alice, bob])
    async with open_tab(bob) as watcher, open_tab(bob) as bobs_other_tab:
        rooms = RoomList(watcher.hello)
        await sync_to_async(services.update_room)(alice, general.pk, name="General", topic="hi")
        plans = await sync_to_async(services.create_private_room)(carol, "plans")
        await sync_to_async(services.add_member)(carol, plans.pk, "bob")
        await sync_to_async(services.set_role)(alice, general.pk, "bob", "admin")
        await sync_to_async(services.remove_member)(alice, side.pk, "bob")
        dm, _created = await sync_to_async(services.open_direct)(carol, "bob")
        await sync_to_async(services.open_direct)(alice, "bob")  # never written in
        await sync_to_async(services.send_message)(carol, dm.pk, "hi", str(uuid.uuid4()))
        await sync_to_async(services.set_room_notify)(bob, general.pk, "nothing")
        await sync_to_async(services.set_notify_default)(bob, "all")
        await pin_edit_and_delete(alice, bob, general)
        while not await watcher.nothing(0.5):
            rooms.apply(await watcher.receive())
        assert await bobs_other_tab.receive_type("room.removed")

    async with open_tab(bob) as fresh:
        fresh_rooms = RoomList(fresh.hello)
    assert rooms.state() == fresh_rooms.state()
    assert sorted(r["name"] for r in fresh_rooms.rooms.values()) == ["Carol", "General", "plans"]
    assert fresh_rooms.rooms[general.pk]["role"] == "admin"
    assert fresh_rooms.rooms[general.pk]["notify"] == "nothing"
    assert fresh_rooms.rooms[plans.pk]["notify_default"] == "all"
    pins = fresh_rooms.rooms[general.pk]["pins"]
    assert [pin["message"]["excerpt"] for pin in pins] == ["by bob", "kept, edited"]


async def pin_edit_and_delete(alice, bob, room) -> None:
    """Pins in a room bob is an admin of: pinned, edited, deleted, unpinned."""
    kept, doomed, dropped, by_bob = [
        await sync_to_async(services.send_message)(alice, room.pk, body, str(uuid.uuid4()))
        for body in ("kept", "doomed", "dropped", "by bob")
    ]
    for message in (kept[0], doomed[0], dropped[0]):
        await sync_to_async(services.pin_message)(alice, room.pk, message.pk, on=True)
    await sync_to_async(services.pin_message)(bob, room.pk, by_bob[0].pk, on=True)
    await sync_to_async(services.edit_message)(alice, kept[0].pk, "kept, edited")
    await sync_to_async(services.delete_message)(alice, doomed[0].pk)
    await sync_to_async(services.pin_message)(bob, room.pk, dropped[0].pk, on=False)
