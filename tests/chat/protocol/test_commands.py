import json
import time
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat.errors import ChatError
from chat.protocol import frames
from chat.protocol.commands import (
    MAX_FRAME_BYTES,
    Fetch,
    Ping,
    Read,
    Send,
    parse_client_msg_id,
    parse_frame,
    parse_page,
)

CID = "5b7c6a1e-2f7d-4c0e-9b1a-0d8f3e4c2a10"


def test_send_frame_parses_into_a_send_command_with_a_canonical_uuid():
    frame = {"type": "send", "room": 3, "body": "hi", "client_msg_id": CID.upper(), "extra": 1}
    assert parse_frame(json.dumps(frame)) == Send(room=3, body="hi", client_msg_id=CID)


@settings(max_examples=200)
@given(
    st.uuids().map(str) | st.uuids().map(lambda u: u.hex) | st.uuids().map(lambda u: str(u).upper())
)
def test_client_msg_id_in_any_uuid_spelling_comes_out_canonical(value):
    assert parse_client_msg_id(value) == str(uuid.UUID(value))


@pytest.mark.parametrize("value", ["", "5b7c6a1e", CID + "\n", CID.replace("-", "_"), 42, None])
def test_client_msg_id_that_is_no_uuid_is_refused(value):
    with pytest.raises(ChatError, match="client_msg_id"):
        parse_client_msg_id(value)


def test_a_send_may_list_attachments():
    frame = {"type": "send", "room": 3, "body": "", "client_msg_id": CID, "attachments": [4, 9]}
    assert parse_frame(json.dumps(frame)).attachments == (4, 9)


@pytest.mark.parametrize(
    "attachments", ["4", [0], [1.5], ["4"], [True], [4, 4], list(range(1, 12)), {"id": 4}]
)
def test_bad_attachment_lists_are_refused(attachments):
    frame = {"type": "send", "room": 3, "body": "", "client_msg_id": CID}
    with pytest.raises(ChatError) as refused:
        parse_frame(json.dumps({**frame, "attachments": attachments}))
    assert refused.value.code == "bad_request"


def test_a_send_may_go_in_a_thread_and_also_to_the_room():
    frame = {"type": "send", "room": 3, "body": "re", "client_msg_id": CID, "thread_root": 7}
    command = parse_frame(json.dumps({**frame, "also_in_room": True}))
    assert (command.thread_root, command.also_in_room) == (7, True)
    assert parse_frame(json.dumps(frame)).also_in_room is False


@pytest.mark.parametrize(
    "extra", [{"thread_root": 0}, {"thread_root": "7"}, {"thread_root": 7, "also_in_room": 1}]
)
def test_bad_thread_fields_are_refused(extra):
    frame = {"type": "send", "room": 3, "body": "re", "client_msg_id": CID, **extra}
    with pytest.raises(ChatError) as refused:
        parse_frame(json.dumps(frame))
    assert refused.value.code == "bad_request"


@pytest.mark.parametrize("depth", [17, 100, 8000])
def test_deeply_nested_frame_is_too_large(depth):
    text = '{"type": "ping", "x": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(ChatError) as raised:
        parse_frame(text)
    assert raised.value.code == "too_large"


def test_brackets_inside_strings_do_not_count_as_nesting():
    body = "[" * 500 + "{" * 500
    frame = {"type": "send", "room": 3, "body": body, "client_msg_id": CID}
    assert parse_frame(json.dumps(frame)).body == body


def test_nesting_at_the_limit_is_accepted():
    text = '{"type": "ping", "x": ' + "[" * 15 + "]" * 15 + "}"
    assert parse_frame(text) == Ping()


def test_fetch_frame_defaults_to_the_newest_page_of_fifty():
    assert parse_frame('{"type": "fetch", "room": 1}') == Fetch(
        room=1, after=None, before=None, limit=50
    )


def test_fetch_after_zero_is_the_start_of_the_room():
    assert parse_frame('{"type": "fetch", "room": 1, "after": 0}').after == 0


def test_read_and_ping_frames_parse():
    assert parse_frame('{"type": "read", "room": 2, "seq": 0}') == Read(room=2, seq=0)
    assert parse_frame('{"type": "ping"}') == Ping()


def test_error_for_a_bad_send_keeps_its_client_msg_id():
    with pytest.raises(ChatError) as caught:
        parse_frame(json.dumps({"type": "send", "room": "x", "body": "", "client_msg_id": CID}))
    assert frames.error(caught.value) == {
        "type": "error",
        "code": "bad_request",
        "detail": caught.value.detail,
        "client_msg_id": CID,
    }


def test_frame_over_the_byte_limit_is_too_large_even_when_short_in_characters():
    text = json.dumps({"type": "ping", "pad": "é" * (MAX_FRAME_BYTES // 2 + 1)}, ensure_ascii=False)
    assert len(text) < MAX_FRAME_BYTES * 2
    with pytest.raises(ChatError) as caught:
        parse_frame(text)
    assert caught.value.code == "too_large"


@pytest.mark.parametrize(
    ("after", "before", "limit", "changed_after"),
    [
        (1, 2, None, None),
        (None, 0, None, None),
        (-1, None, None, None),
        (None, None, 201, None),
        (True, None, None, None),
        (1, None, None, 3),
        (None, None, None, -1),
    ],
)
def test_bad_pages_are_refused(after, before, limit, changed_after):
    with pytest.raises(ChatError):
        parse_page(after, before, limit, changed_after)


def test_a_fetch_of_changes_since_a_revision_parses():
    fetch = parse_frame('{"type": "fetch", "room": 2, "changed_after": 0, "limit": 10}')
    assert (fetch.changed_after, fetch.after, fetch.limit) == (0, None, 10)


def test_encode_is_compact_and_keeps_unicode():
    assert frames.encode({"type": "x", "body": "héllo"}) == '{"type":"x","body":"héllo"}'


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_raises_chat_error(text):
    try:
        parse_frame(text)
    except ChatError as error:
        assert error.code in {"bad_request", "too_large"}


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["send", "fetch", "read", "ping", "other"]),
    st.dictionaries(
        st.sampled_from(["room", "body", "client_msg_id", "after", "before", "limit", "seq"]),
        json_values,
    ),
)
def test_any_object_frame_parses_or_raises_chat_error(kind, fields):
    try:
        command = parse_frame(json.dumps({"type": kind, **fields}))
    except ChatError as error:
        assert error.code == "bad_request"
    else:
        assert isinstance(command, Send | Fetch | Read | Ping)


# Found under issue 12: client input that cost the parser quadratic time or crashed framing.

ATTACKS = {
    "escaped quotes after brackets": "[" * 17 + '"\\' * 32491,
    "unterminated strings": '{"type": "ping", "x": [' + '"\\"' * 21000,
    "brackets in an endless string": '{"type": "ping", "x": "' + "[{" * 32000,
}


@pytest.mark.parametrize("text", ATTACKS.values(), ids=ATTACKS.keys())
def test_a_hostile_frame_is_refused_in_time_linear_in_its_size(text):
    started = time.process_time()
    with pytest.raises(ChatError) as refused:
        parse_frame(text)
    assert refused.value.code in ("bad_request", "too_large")
    # A linear parse of 64 KB takes milliseconds; the quadratic check took ~15 s.
    assert time.process_time() - started < 0.5


@pytest.mark.parametrize(
    "frame",
    [
        '{"type": "ping", "request_id": "\\ud800"}',
        '{"type": "send", "room": 1, "body": "x", "client_msg_id": "\\udfff"}',
        f'{{"type": "send", "room": 1, "body": "a\\ud83d", "client_msg_id": "{CID}"}}',
        '{"type": "ping", "\\ud800": 1}',
        '{"type": "ping", "x": ["ok", {"y": "\\udc00"}]}',
    ],
)
def test_a_lone_surrogate_anywhere_is_refused_without_echoing_it(frame):
    with pytest.raises(ChatError) as refused:
        parse_frame(frame)
    assert refused.value.code == "bad_request"
    error = frames.error(refused.value)
    frames.encode(error).encode("utf-8")  # the answer itself can be sent
    assert "request_id" not in error and "client_msg_id" not in error
