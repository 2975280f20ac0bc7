"""Incoming webhooks over HTTP: the API of a room's webhooks (owners and admins), and
`POST /hooks/<secret>` as a program calls it (no session, no CSRF token)."""

import json
import uuid
from urllib.parse import urlencode, urlsplit

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chat import services
from chat.http.middleware import HOOK_MAX_BYTES
from chat.models import Message, Webhook
from chat.protocol.schema import check_shape
from config.asgi import application
from tests.factories import RoomFactory, UserFactory
from tests.support import asgi_request
from tests.wsclient import open_tab

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def room(user, other_user):
    return RoomFactory(name="builds", kind="private", members=[user, other_user])


@pytest.fixture
def hook(user, room) -> str:
    """The path of a live webhook of the room."""
    return f"/hooks/{services.create_webhook(user, room.pk, 'CI')[1]}"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def program() -> Client:
    """A caller with no session that would fail any CSRF check."""
    return Client(enforce_csrf_checks=True)


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["detail"]
    return error["code"]


def test_an_owner_makes_lists_and_revokes_webhooks(user, room):
    api = signed_in(user)
    made = api.post(f"/api/rooms/{room.pk}/webhooks/", {"name": "CI"}, "application/json")
    assert made.status_code == 201
    webhook = check_shape("NewWebhook", made.json())
    assert set(webhook) == {"id", "name", "url"}
    assert webhook["url"].startswith("http://testserver/hooks/")
    listed = api.get(f"/api/rooms/{room.pk}/webhooks/").json()["webhooks"]
    assert [check_shape("Webhook", entry)["id"] for entry in listed] == [webhook["id"]]
    secret = webhook["url"].rsplit("/", 1)[1]
    assert secret not in json.dumps(listed)
    assert listed[0]["created_by"]["id"] == user.pk
    assert listed[0]["bot"]["display_name"] == "CI"
    revoked = api.delete(f"/api/rooms/{room.pk}/webhooks/{webhook['id']}")
    assert (revoked.status_code, revoked.json()) == (200, {})
    assert api.get(f"/api/rooms/{room.pk}/webhooks/").json() == {"webhooks": []}
    assert error_of(api.delete(f"/api/rooms/{room.pk}/webhooks/{webhook['id']}"), 404)
    assert (
        error_of(
            program().post(urlsplit(webhook["url"]).path, {"text": "x"}, "application/json"), 404
        )
        == "not_found"
    )


def test_plain_members_outsiders_and_strangers_are_refused(user, other_user, room, hook):
    paths = [f"/api/rooms/{room.pk}/webhooks/", f"/api/rooms/{room.pk}/webhooks/1"]
    member, outsider = signed_in(other_user), signed_in(UserFactory(username="mallory"))
    for client, status, code in [(member, 403, "forbidden"), (outsider, 404, "not_found")]:
        assert error_of(client.post(paths[0], {"name": "x"}, "application/json"), status) == code
        assert error_of(client.get(paths[0]), status) == code
        assert error_of(client.delete(paths[1]), status) == code
    assert error_of(Client().get(paths[0]), 401) == "unauthorized"
    assert Webhook.objects.count() == 1


def test_a_bad_name_gets_a_clear_error(user, room):
    response = signed_in(user).post(
        f"/api/rooms/{room.pk}/webhooks/", {"name": ""}, "application/json"
    )
    assert error_of(response, 400) == "bad_request"
    assert response.json()["error"]["detail"] == "A webhook needs a name."
    assert Webhook.objects.count() == 0


def test_a_json_post_becomes_a_message_answered_ok_in_plain_text(user, room, hook):
    response = program().post(hook, {"text": "build **green** @bob"}, "application/json")
    assert (response.status_code, response.content) == (200, b"ok")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies
    message = Message.objects.get(room=room)
    assert message.author.webhook.room == room
    assert (message.body, message.via) == ("build **green** @bob", None)
    assert "<strong>green</strong>" in message.html
    assert list(message.mentions.values_list("username", flat=True)) == ["bob"]


def test_a_slack_form_post_carries_its_username_as_via(room, hook):
    payload = json.dumps({"text": "deployed v2 ✓", "username": "GitHub Actions"})
    response = program().post(hook, urlencode({"payload": payload}), FORM)
    assert (response.status_code, response.content) == (200, b"ok")
    message = Message.objects.get(room=room)
    assert (message.body, message.via) == ("deployed v2 ✓", "GitHub Actions")
    shown = signed_in(room.memberships.first().user).get(f"/api/rooms/{room.pk}/messages")
    assert shown.json()["messages"][0]["via"] == "GitHub Actions"


def test_a_retried_client_msg_id_stores_once(room, hook):
    body = {"text": "deployed", "client_msg_id": str(uuid.uuid4())}
    answers = [program().post(hook, body, "application/json") for _ in range(3)]
    assert [(a.status_code, a.content) for a in answers] == [(200, b"ok")] * 3
    assert Message.objects.filter(room=room).count() == 1


@pytest.mark.parametrize("secret", ["q" * 32, "short", "%00", "x" * 300])
def test_an_unknown_secret_is_not_found_and_stores_nothing(hook, secret):
    assert (
        error_of(program().post(f"/hooks/{secret}", {"text": "hi"}, "application/json"), 404)
        == "not_found"
    )
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type", "detail"),
    [
        ("not json", "application/json", "The body is not valid JSON."),
        ("[1, 2]", "application/json", "The body must be a JSON object."),
        ("{}", "application/json", "`text` must be a string."),
        ('{"text": 5}', "application/json", "`text` must be a string."),
        ('{"text": ""}', "application/json", "A message cannot be empty."),
        (
            '{"text": "x", "client_msg_id": "nope"}',
            "application/json",
            "`client_msg_id` must be a UUID string.",
        ),
        ('{"text": "x", "username": ["a"]}', "application/json", "`username` must be a string."),
        ("text=hello", FORM, "A form must hold the JSON payload in its `payload` field."),
        ("payload=%7Bnope", FORM, "The payload is not valid JSON."),
        ("payload=%22text%22", FORM, "The payload must be a JSON object."),
    ],
)
def test_a_body_that_is_no_payload_is_a_clear_bad_request(hook, body, content_type, detail):
    response = program().post(hook, body, content_type)
    assert error_of(response, 400) == "bad_request"
    assert response.json()["error"]["detail"] == detail
    assert not Message.objects.exists()


def test_only_post_is_allowed(hook):
    response = program().get(hook)
    assert error_of(response, 405) == "not_allowed"
    assert response["Allow"] == "POST"


def test_a_revoked_webhook_stops(user, room, hook):
    assert program().post(hook, {"text": "one"}, "application/json").status_code == 200
    services.revoke_webhook(user, room.pk, Webhook.objects.get().pk)
    assert error_of(program().post(hook, {"text": "two"}, "application/json"), 404) == "not_found"
    assert list(Message.objects.values_list("body", flat=True)) == ["one"]


def test_flood_control_holds(settings, fresh_cache, hook):
    settings.PARLEY_SEND_RATE = (2, 3600)
    answers = [program().post(hook, {"text": f"n{n}"}, "application/json") for n in range(3)]
    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert error_of(answers[2], 429) == "rate_limited"
    assert Message.objects.count() == 2


def test_a_hook_post_makes_a_bounded_number_of_queries(hook):
    """The webhook by its secret's hash (bot joined), the mentioned members, the send's
    three statements and the mention: no session, no user row read again. Two more are
    the send's transaction (here its savepoint and release)."""
    program().post(hook, {"text": "warm"}, "application/json")
    with CaptureQueriesContext(connection) as queries:
        response = program().post(
            hook, {"text": "hello @bob", "username": "CI"}, "application/json"
        )
    assert response.status_code == 200
    statements = [query["sql"] for query in queries.captured_queries]
    assert len(statements) <= 8, statements
    assert not [sql for sql in statements if "django_session" in sql]


@pytest.mark.django_db(transaction=True)
class TestLive:
    async def test_members_sockets_hear_the_message(self, user, other_user):
        room = await sync_to_async(RoomFactory)(name="builds", members=[user, other_user])
        _webhook, secret = await sync_to_async(services.create_webhook)(user, room.pk, "CI")
        async with open_tab(other_user) as tab:
            payload = json.dumps({"text": "release *out*", "username": "deployer"}).encode()
            answer = await asgi_request(
                application,
                f"/hooks/{secret}",
                headers=[(b"content-type", b"application/json")],
                chunks=[payload],
            )
            assert (answer.status, answer.body) == (200, b"ok")
            heard = (await tab.receive_type("message"))["message"]
            assert (heard["room"], heard["seq"], heard["via"]) == (room.pk, 1, "deployer")
            assert heard["author"]["display_name"] == "CI"
            assert heard["html"] == "<p>release <em>out</em></p>"

    async def test_a_body_over_the_limit_is_refused_unread_as_json(self, user):
        answer = await asgi_request(
            application,
            f"/hooks/{'q' * 32}",
            headers=[(b"content-length", str(HOOK_MAX_BYTES + 1).encode())],
            chunks=[b"x" * (HOOK_MAX_BYTES + 1)],
        )
        assert (answer.status, answer.read) == (413, 0)
        assert answer.json()["error"]["code"] == "too_large"


def test_unknown_secrets_from_one_address_have_a_budget(settings, fresh_cache, room, hook):
    settings.PARLEY_LIMITS = {**settings.PARLEY_LIMITS, "hook_miss": (2, 600)}
    misses = [program().post(f"/hooks/{'q' * 32}", {"text": "hi"}, "application/json")]
    misses.append(program().post(f"/hooks/{'r' * 32}", {"text": "hi"}, "application/json"))
    assert [error_of(miss, 404) for miss in misses] == ["not_found", "not_found"]
    # Past the budget, even the right secret is refused from that address, unread.
    refused = program().post(hook, {"text": "hi"}, "application/json")
    assert error_of(refused, 429) == "rate_limited"
    assert not Message.objects.exists()
    # Another address is not held up; a known secret never spends from the budget.
    elsewhere = Client(REMOTE_ADDR="192.0.2.7")
    assert [
        elsewhere.post(hook, {"text": f"{n}"}, "application/json").status_code for n in range(3)
    ] == [200] * 3
    assert Message.objects.filter(room=room).count() == 3
