"""The team scenario's shape and schedule make what bench.team says (no server needed)."""

import random
from collections import Counter

from bench.team import TEAM_FULL
from bench.team_shape import (
    KIND_MIX,
    ROOM_MIX,
    TYPING_GAP_NS,
    Schedule,
    Team,
    frame_key,
    make_shape,
    receivers,
)

SIZE = TEAM_FULL.size


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 (a reproducible draw, not a secret)


def full_team() -> Team:
    """The full plan's shape with stand-in ids: seeds as team_fixtures writes them."""
    rooms = make_shape(SIZE, seeded(1))
    seeds, next_id = [], 1
    for room in rooms:
        count = max(SIZE.seeds, len(room.members))
        seeds.append([(next_id + i, room.members[i % len(room.members)]) for i in range(count)])
        next_id += count
    return Team(
        size=SIZE,
        rooms=rooms,
        room_ids=[10_000 + i for i in range(len(rooms))],
        user_ids=[50_000 + i for i in range(SIZE.users)],
        cookies=[f"sessionid={i}" for i in range(SIZE.users)],
        seeds=seeds,
    )


def test_rooms_people_and_tabs():
    team = full_team()
    kinds = Counter(room.kind for room in team.rooms)
    assert kinds == {"group": 200, "direct": 500, "big": 1}
    groups = [room for room in team.rooms if room.kind == "group"]
    assert all(5 <= len(room.members) <= 20 for room in groups)
    assert all(len(set(room.members)) == len(room.members) for room in team.rooms)
    assert {u for room in groups for u in room.members} == set(range(1000))
    assert len({frozenset(room.members) for room in team.rooms if room.kind == "direct"}) == 500
    assert [len(room.members) for room in team.rooms if room.kind == "big"] == [500]
    assert team.sockets == 2000


def test_mix_within_tolerance_and_every_event_changes_something():
    team = full_team()
    schedule = Schedule(team, seeded(2))
    events = [e for _ in range(20) for e in schedule.step(200.0, 4.0)]
    assert 15_000 < len(events) < 17_000  # Poisson: 16,000 expected
    kinds = Counter(e.kind for e in events)
    for kind, share in KIND_MIX.items():
        assert abs(kinds[kind] / len(events) - share) < 0.02, kind
    rooms = Counter(team.rooms[e.room].kind for e in events)
    for kind, share in ROOM_MIX.items():
        assert abs(rooms[kind] / len(events) - share) < 0.02, kind
    for e in events:
        assert e.actor in team.rooms[e.room].members
        if e.kind == "edit":
            assert (e.target, e.actor) in team.seeds[e.room]


def test_keys_unique_per_step_and_typing_spaced():
    team = full_team()
    schedule = Schedule(team, seeded(3))
    last_typing: dict[tuple[int, int], int] = {}
    for n in range(10):
        events = schedule.step(300.0, 4.0)
        keys = [frame_key(team, e) for e in events if frame_key(team, e) is not None]
        assert len(keys) == len(set(keys))
        for e in events:
            if e.kind == "typing":
                at = n * 4_000_000_000 + e.offset_ns
                assert at - last_typing.get((e.room, e.actor), -TYPING_GAP_NS) >= TYPING_GAP_NS
                last_typing[e.room, e.actor] = at


def test_a_persons_reads_in_a_room_go_from_one_tab_in_a_step_each_one_further():
    """From two tabs a later read could be answered first; the earlier one would then
    move nothing, and its frames (counted as expected) would never come."""
    team = full_team()
    schedule = Schedule(team, seeded(5))
    pointer: dict[tuple[int, int], int] = {}
    pairs = 0
    for _ in range(10):
        tabs: dict[tuple[int, int], int] = {}
        for e in schedule.step(300.0, 4.0):
            if e.kind == "read":
                pairs += (e.room, e.actor) in tabs
                assert tabs.setdefault((e.room, e.actor), e.tab) == e.tab
                assert e.target == pointer.get((e.room, e.actor), 0) + 1
                pointer[e.room, e.actor] = e.target
    assert pairs > 0  # the draw did put two reads of one person and room in a step


def test_receivers():
    team = full_team()
    schedule = Schedule(team, seeded(4))
    events = schedule.step(300.0, 4.0)
    for e in events:
        room = team.rooms[e.room]
        got = receivers(team, e)
        if e.kind == "read":
            want = 4 if room.kind == "direct" else 2
        else:
            want = 2 * len(room.members) + (e.kind in ("edit", "reaction"))
        assert len(got) == want
