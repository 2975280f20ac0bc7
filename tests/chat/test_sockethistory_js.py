"""The web client's catch-up over the socket (chat/static/chat/sockethistory.js), run in
Node against a stand-in connection: fetches are paired with their answers by request_id
whatever order the answers come in, at most MAX_IN_FLIGHT are unanswered at once, and a
lost socket fails what it was asked without an answer."""

from tests.support import run_in_node

# A connection that records what it was given to send; `connected` false refuses.
FAKE = """
class FakeConnection extends EventTarget {
  sent = [];
  connected = true;
  send(frame) {
    if (!this.connected) return false;
    this.sent.push(frame);
    return true;
  }
}
const connection = new FakeConnection();
const history = new SocketHistory(connection);
const outcomes = [];
const ask = (room, params) => history.fetch(room, params).then(
  (page) => outcomes.push({ room, ok: page.messages }),
  (error) => outcomes.push({ room, error: error.code, detail: error.detail }),
);
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
// Answers the i-th fetch sent with `messages` (or whatever `frame` says instead).
const answer = (i, frame = { type: "messages", messages: [], has_more: false }) =>
  history.handle({ ...frame, request_id: connection.sent[i].request_id });
"""


def run(script: str):
    """`script` runs after FAKE; what it printed, as JSON."""
    return run_in_node({"sockethistory.js": "SocketHistory, MAX_IN_FLIGHT"}, FAKE + script)


def test_answers_pair_with_their_fetches_in_any_order():
    result = run("""
const asked = [ask(1, { after: 5, limit: 200 }), ask(2, { changedAfter: 9, limit: 200 })];
answer(1, { type: "messages", messages: ["b"], has_more: false });
answer(0, { type: "messages", messages: ["a"], has_more: false });
const unrelated = history.handle({ type: "messages", request_id: "edit-1", messages: [] });
const untagged = history.handle({ type: "message", message: {} });
await Promise.all(asked);
console.log(JSON.stringify({ sent: connection.sent, outcomes, unrelated, untagged }));
""")
    first, second = result["sent"]
    assert first == {"type": "fetch", "room": 1, "limit": 200, "after": 5, "request_id": "fetch-1"}
    assert second == {
        "type": "fetch",
        "room": 2,
        "limit": 200,
        "changed_after": 9,
        "request_id": "fetch-2",
    }
    assert result["outcomes"] == [{"room": 2, "ok": ["b"]}, {"room": 1, "ok": ["a"]}]
    assert result["unrelated"] is False
    assert result["untagged"] is False


def test_an_error_frame_refuses_its_fetch_only():
    result = run("""
const asked = [ask(1, { after: 0, limit: 50 }), ask(2, { after: 0, limit: 50 })];
answer(0, { type: "error", code: "not_found", detail: "No such room." });
answer(1);
await Promise.all(asked);
console.log(JSON.stringify(outcomes));
""")
    assert result == [
        {"room": 1, "error": "not_found", "detail": "No such room."},
        {"room": 2, "ok": []},
    ]


def test_no_more_than_max_in_flight_unanswered_and_the_rest_follow_answers():
    result = run("""
const asked = Array.from({ length: 20 }, (_, i) => ask(i, { after: 0, limit: 200 }));
const before = connection.sent.length;
answer(0);
const afterOne = connection.sent.length;
for (let i = 1; i < 20; i += 1) {
  await settle();
  answer(i);
}
await Promise.all(asked);
const ids = new Set(connection.sent.map((frame) => frame.request_id)).size;
const sent = connection.sent.length;
const answered = outcomes.length;
console.log(JSON.stringify({ max: MAX_IN_FLIGHT, before, afterOne, sent, ids, answered }));
""")
    assert result["max"] == 8
    assert result["before"] == 8
    assert result["afterOne"] == 9
    assert result["sent"] == result["ids"] == result["answered"] == 20


def test_a_lost_socket_fails_the_sent_and_the_waiting_and_forgets_them():
    result = run("""
const asked = Array.from({ length: 10 }, (_, i) => ask(i, { after: 0, limit: 200 }));
const sentBefore = connection.sent.length;
connection.dispatchEvent(new Event("lost"));
await Promise.all(asked);
const lateAnswer = answer(0);
connection.connected = false;
await ask(99, { after: 0, limit: 200 });
console.log(JSON.stringify({ sentBefore, errors: outcomes.map((o) => o.error), lateAnswer }));
""")
    assert result["sentBefore"] == 8
    assert result["errors"] == ["lost"] * 11
    assert result["lateAnswer"] is False
