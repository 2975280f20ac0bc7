"""The team workload's shape and its Poisson schedule, pure Python (no server, no Django).

A team: `users` people, each with `tabs` sockets open, in `groups` group rooms of 5–20
members (every person in at least one), `directs` direct rooms of two, and one large
room. Each room starts with `seeds` messages, or one per member if more (written by
its members in turn, none of them read): edits rewrite one's own seed, reactions land
on seeds, and a read moves the reader's pointer one seed further (a person's reads in
a room go from one tab in a step, so none is overtaken), so each of them changes
something and the server sends its frames.

Events arrive as a Poisson process at the offered rate. Each draws where it happens
(ROOM_MIX: nine in ten in the small rooms) and what it is (KIND_MIX), then an actor
among the room's members and one of the actor's tabs. Every event's frames are known
in advance (`receivers`), so the generator knows how many deliveries to wait for, and
each frame that carries no send time (reaction, typing, read) has a key that the
reading process finds the event's due time by.
"""

import random
from dataclasses import dataclass, field

from .leanws import body
from .loadgen import send_frame

ROOM_MIX = {"group": 0.65, "direct": 0.25, "big": 0.10}
KIND_MIX = {"message": 0.35, "typing": 0.30, "read": 0.20, "reaction": 0.10, "edit": 0.05}
KINDS = tuple(KIND_MIX)
EMOJI = ("👍", "🎉", "😂", "🚀")
# The server sends one typing notice per person and room per 2 s (chat.services.messages
# TYPING_SECONDS); the schedule keeps theirs 3 s apart, across steps too.
TYPING_GAP_NS = 3_000_000_000
REDRAWS = 30  # tries for an event whose kind is blocked (typing too soon, no unread seed)


@dataclass(frozen=True)
class TeamSize:
    users: int
    tabs: int
    groups: int
    group_sizes: tuple[int, int]
    directs: int
    big: int
    seeds: int  # messages in each room before the run (at least one per member)


@dataclass(frozen=True)
class RoomShape:
    name: str
    kind: str  # "group", "direct" or "big"
    members: tuple[int, ...]  # user indices


def make_shape(size: TeamSize, rng: random.Random) -> list[RoomShape]:
    """The rooms: groups filled from a shuffled pool of everyone (so nobody is left
    out), distinct pairs for the direct rooms, a random sample for the large room."""
    rooms: list[RoomShape] = []
    pool: list[int] = []
    for g in range(size.groups):
        want = rng.randint(*size.group_sizes)
        members: list[int] = []
        while len(members) < want:
            if not pool:
                pool = rng.sample(range(size.users), size.users)
            user = pool.pop()
            if user not in members:
                members.append(user)
        rooms.append(RoomShape(f"team-group-{g}", "group", tuple(members)))
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < size.directs:
        a, b = sorted(rng.sample(range(size.users), 2))
        pairs.add((a, b))
    rooms += [RoomShape(f"team-direct-{a}-{b}", "direct", (a, b)) for a, b in sorted(pairs)]
    rooms.append(RoomShape("team-big", "big", tuple(rng.sample(range(size.users), size.big))))
    return rooms


@dataclass(frozen=True)
class Team:
    """The shape as made in the database (bench.team_fixtures): ids, cookies, seeds."""

    size: TeamSize
    rooms: list[RoomShape]
    room_ids: list[int]
    user_ids: list[int]
    cookies: list[str]  # one session per person; every tab of theirs uses it
    seeds: list[list[tuple[int, int]]]  # per room: (message id, author index), oldest first

    def socket(self, user: int, tab: int) -> int:
        return user * self.size.tabs + tab

    @property
    def sockets(self) -> int:
        return self.size.users * self.size.tabs


@dataclass(frozen=True)
class Event:
    offset_ns: int  # from the step's start
    kind: str
    room: int  # index into Team.rooms
    actor: int
    tab: int
    target: int = 0  # message id (edit, reaction) or seq (read)
    emoji: str = ""
    on: bool = True


@dataclass
class Schedule:
    """What every event of the run so far changed, so the next ones change something too."""

    team: Team
    rng: random.Random
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # room kind -> room indices
    pointer: dict[tuple[int, int], int] = field(default_factory=dict)  # (room, user) -> seq
    reacted: set[tuple[int, int, str]] = field(default_factory=set)  # (message, user, emoji)
    typed: dict[tuple[int, int], int] = field(default_factory=dict)  # (room, user) -> time
    stored: dict[int, int] = field(default_factory=dict)  # room -> messages before this step
    # (room, user) -> the tab their reads go from in the step under way: one socket answers
    # in order, two need not, and a read overtaken by a later one moves nothing and sends
    # nothing (the pointer never goes back), which the count of frames would call lost.
    read_tab: dict[tuple[int, int], int] = field(default_factory=dict)
    clock_ns: int = 0  # the run's time: steps follow one another on it

    def __post_init__(self) -> None:
        for i, room in enumerate(self.team.rooms):
            self.by_kind.setdefault(room.kind, []).append(i)
            self.stored[i] = len(self.team.seeds[i])

    def step(self, rate: float, seconds: float) -> list[Event]:
        """One step's events at `rate` per second for `seconds`, in time order."""
        events: list[Event] = []
        used: set[tuple] = set()
        self.read_tab.clear()
        t = self.rng.expovariate(rate) if rate > 0 else seconds
        while t < seconds:
            offset = int(t * 1e9)
            events.append(self._draw(offset, used))
            t += self.rng.expovariate(rate)
        for e in events:
            if e.kind == "message":
                self.stored[e.room] += 1
        # The gap between steps (drain, settle) only adds to the typing spacing.
        self.clock_ns += int(seconds * 1e9)
        return events

    def _draw(self, offset: int, used: set[tuple]) -> Event:
        for _ in range(REDRAWS):
            room = self.rng.choice(self.by_kind[_pick(self.rng, ROOM_MIX)])
            kind = _pick(self.rng, KIND_MIX)
            actor = self.rng.choice(self.team.rooms[room].members)
            tab = self.rng.randrange(self.team.size.tabs)
            event = self._make(kind, room, actor, tab, offset, used)
            if event is not None:
                return event
        return Event(offset, "message", room, actor, tab)

    def _make(
        self, kind: str, room: int, actor: int, tab: int, offset: int, used: set[tuple]
    ) -> Event | None:
        seeds = self.team.seeds[room]
        if kind == "typing":
            now = self.clock_ns + offset
            if now - self.typed.get((room, actor), -TYPING_GAP_NS) < TYPING_GAP_NS:
                return None
            if ("typing", room, actor) in used:  # its key must stay unique in the step
                return None
            used.add(("typing", room, actor))
            self.typed[room, actor] = now
            return Event(offset, kind, room, actor, tab)
        if kind == "read":
            seq = self.pointer.get((room, actor), 0) + 1
            if seq > self.stored[room]:  # only what was stored before this step
                return None
            self.pointer[room, actor] = seq
            tab = self.read_tab.setdefault((room, actor), tab)
            return Event(offset, kind, room, actor, tab, target=seq)
        if kind == "reaction":
            message = self.rng.choice(seeds)[0]
            emoji = self.rng.choice(EMOJI)
            on = (message, actor, emoji) not in self.reacted
            if (message, actor, emoji) in used:  # one change per key and step: keys stay unique
                return None
            used.add((message, actor, emoji))
            (self.reacted.add if on else self.reacted.discard)((message, actor, emoji))
            return Event(offset, kind, room, actor, tab, target=message, emoji=emoji, on=on)
        if kind == "edit":
            own = [m for m, author in seeds if author == actor]
            return Event(offset, kind, room, actor, tab, target=self.rng.choice(own))
        return Event(offset, kind, room, actor, tab)


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(tuple(weights), weights=tuple(weights.values()))[0]


def frame_text(team: Team, event: Event, step: int, due_ns: int) -> str:
    """The frame the actor's tab sends, as docs/protocol.md has it."""
    room = team.room_ids[event.room]
    if event.kind == "message":
        return send_frame(room, step, due_ns)
    if event.kind == "edit":
        return f'{{"type":"edit","message":{event.target},"body":"{body(step, due_ns)}"}}'
    if event.kind == "typing":
        return f'{{"type":"typing","room":{room}}}'
    if event.kind == "read":
        return f'{{"type":"read","room":{room},"seq":{event.target}}}'
    on = "true" if event.on else "false"
    return f'{{"type":"react","message":{event.target},"emoji":"{event.emoji}","on":{on}}}'


def frame_key(team: Team, event: Event) -> tuple | None:
    """How a reader recognises the event's frames when they carry no send time."""
    user = team.user_ids[event.actor]
    if event.kind == "typing":
        return ("typing", team.room_ids[event.room], user)
    if event.kind == "read":
        return ("read", team.room_ids[event.room], user, event.target)
    if event.kind == "reaction":
        return ("reaction", event.target, user, event.emoji, event.on)
    return None


def receivers(team: Team, event: Event) -> list[int]:
    """Every socket that gets a frame of the event (one entry per frame).

    A room's events reach every tab of every member, the actor's own included (a
    message reaches its sending tab in its ack); an edit and a reaction are also
    answered on the sending tab. A read reaches the reader's
    tabs, and in a direct room the other person's too."""
    tabs = range(team.size.tabs)
    room = team.rooms[event.room]
    if event.kind == "read":
        people = room.members if room.kind == "direct" else (event.actor,)
        return [team.socket(u, t) for u in people for t in tabs]
    sockets = [team.socket(u, t) for u in room.members for t in tabs]
    if event.kind in ("edit", "reaction"):
        sockets.append(team.socket(event.actor, event.tab))
    return sockets
