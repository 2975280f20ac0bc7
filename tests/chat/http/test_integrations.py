"""The API for programs: personal tokens, bots, and `Authorization: Bearer` on every
`/api/` endpoint (CSRF waived for it, never for a session; a bad token never falls back
to the cookie)."""

import uuid

import pytest
from django.test import Client

from accounts.models import Token, User
from chat.models import Membership, Message
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db

SEND_ID = str(uuid.uuid4())


@pytest.fixture
def api(user):
    """A logged-in browser: CSRF enforced, as for a real one."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/accounts/profile/")  # the CSRF cookie
    return client


def csrf(client) -> dict:
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def post(client, url, data, **headers):
    return client.post(url, data, content_type="application/json", **headers)


def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def make_token(api, name="script") -> dict:
    response = post(api, "/api/tokens/", {"name": name}, **csrf(api))
    assert response.status_code == 201, response.content
    return response.json()


class TestTokens:
    def test_made_once_shown_once_stored_as_a_hash(self, api, user):
        made = make_token(api, "  deploy   script ")
        assert set(made) == {"id", "name", "token", "created_at"}
        assert made["name"] == "deploy script"
        assert made["token"].startswith("parley_") and made["created_at"].endswith("Z")
        stored = Token.objects.get(pk=made["id"])
        assert stored.user == user
        assert made["token"] not in stored.digest and len(stored.digest) == 64
        listed = api.get("/api/tokens/").json()["tokens"]
        assert listed == [
            {
                "id": made["id"],
                "name": "deploy script",
                "created_at": made["created_at"],
                "last_used_at": None,
            }
        ]

    @pytest.mark.parametrize(
        "body", [{}, {"name": ""}, {"name": "  "}, {"name": 5}, {"name": "x" * 65}]
    )
    def test_a_bad_name_is_refused_and_makes_nothing(self, api, body):
        response = post(api, "/api/tokens/", body, **csrf(api))
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_request"
        assert not Token.objects.exists()

    def test_a_token_authenticates_the_api_and_notes_its_use(self, api, user):
        made = make_token(api)
        caller = Client(enforce_csrf_checks=True)  # no cookie, no CSRF token
        room = RoomFactory(members=[user])
        sent = post(
            caller,
            f"/api/rooms/{room.pk}/messages",
            {"body": "from a script", "client_msg_id": SEND_ID},
            **bearer(made["token"]),
        )
        assert sent.status_code == 201, sent.content
        assert sent.json()["author"]["username"] == user.username
        again = post(
            caller,
            f"/api/rooms/{room.pk}/messages",
            {"body": "from a script", "client_msg_id": SEND_ID},
            **bearer(made["token"]),
        )
        assert again.status_code == 200  # the same send: idempotent as for a session
        assert Message.objects.filter(room=room).count() == 1
        [listed] = api.get("/api/tokens/").json()["tokens"]
        assert listed["last_used_at"] is not None

    def test_revoked_stops_at_once(self, api):
        made = make_token(api)
        caller = Client()
        assert caller.get("/api/rooms/", **bearer(made["token"])).status_code == 200
        revoked = api.delete(f"/api/tokens/{made['id']}", **csrf(api))
        assert revoked.status_code == 200
        response = caller.get("/api/rooms/", **bearer(made["token"]))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert api.get("/api/tokens/").json()["tokens"] == []

    def test_revoking_someone_elses_token_is_not_found(self, api, other_user):
        theirs = Client()
        theirs.force_login(other_user)
        made = post(theirs, "/api/tokens/", {"name": "mine"}).json()
        response = api.delete(f"/api/tokens/{made['id']}", **csrf(api))
        assert response.status_code == 404
        assert Token.objects.filter(pk=made["id"]).exists()

    def test_a_deactivated_accounts_token_is_refused(self, api, user):
        made = make_token(api)
        User.objects.filter(pk=user.pk).update(is_active=False)
        assert Client().get("/api/rooms/", **bearer(made["token"])).status_code == 401

    def test_making_tokens_has_a_budget(self, api, settings, fresh_cache):
        settings.PARLEY_LIMITS = {**settings.PARLEY_LIMITS, "token_create": (2, 3600)}
        make_token(api)
        make_token(api)
        response = post(api, "/api/tokens/", {"name": "third"}, **csrf(api))
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "rate_limited"
        assert Token.objects.count() == 2


class TestBearerAndCsrf:
    @pytest.mark.parametrize(
        "header",
        [
            "Bearer parley_" + "x" * 43,  # the right shape, no such token
            "Bearer nonsense",
            "Bearer ",
            "bearer",
        ],
    )
    def test_a_bad_token_is_a_clear_401_even_with_a_session_cookie(self, api, user, header):
        room = RoomFactory(members=[user])
        response = post(
            api,
            f"/api/rooms/{room.pk}/messages",
            {"body": "never", "client_msg_id": str(uuid.uuid4())},
            HTTP_AUTHORIZATION=header,
            **csrf(api),
        )
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["code"] == "unauthorized" and "token" in error["detail"]
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert not Message.objects.exists()

    def test_no_token_and_no_session_is_a_401(self):
        response = Client().get("/api/rooms/")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"

    def test_a_session_still_needs_its_csrf_token(self, api, user):
        room = RoomFactory(members=[user])
        refused = post(
            api,
            f"/api/rooms/{room.pk}/messages",
            {"body": "forged", "client_msg_id": str(uuid.uuid4())},
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        assert not Message.objects.exists()
        allowed = post(
            api,
            f"/api/rooms/{room.pk}/messages",
            {"body": "mine", "client_msg_id": str(uuid.uuid4())},
            **csrf(api),
        )
        assert allowed.status_code == 201

    def test_a_bearer_request_needs_no_csrf_token_and_acts_as_the_tokens_user(
        self, api, other_user
    ):
        theirs = Client()
        theirs.force_login(other_user)
        secret = post(theirs, "/api/tokens/", {"name": "bob's"}).json()["token"]
        room = RoomFactory(members=[other_user])
        # alice's cookie rides along; the token alone says who is asking
        response = post(
            api,
            f"/api/rooms/{room.pk}/messages",
            {"body": "hi", "client_msg_id": str(uuid.uuid4())},
            **bearer(secret),
        )
        assert response.status_code == 201
        assert response.json()["author"]["username"] == "bob"

    def test_other_schemes_are_left_to_the_session(self, api):
        response = api.get("/api/rooms/", HTTP_AUTHORIZATION="Basic cHJveHk6cGFzcw==")
        assert response.status_code == 200

    def test_a_token_does_not_open_pages(self, api):
        secret = make_token(api)["token"]
        response = Client().get("/accounts/profile/", **bearer(secret))
        assert response.status_code == 302  # to the login page: tokens are for /api/ only


class TestBots:
    def make_bot(self, api, username="helper", display_name="Helper"):
        return post(
            api, "/api/bots/", {"username": username, "display_name": display_name}, **csrf(api)
        )

    def test_a_bot_is_made_with_its_user_and_a_token(self, api, user):
        response = self.make_bot(api)
        assert response.status_code == 201, response.content
        body = response.json()
        bot = User.objects.get(username="helper")
        assert body["user"] == {
            "id": bot.pk,
            "username": "helper",
            "display_name": "Helper",
            "avatar": None,
            "is_bot": True,
        }
        assert set(body["token"]) == {"id", "name", "token", "created_at"}
        assert bot.bot_owner == user and not bot.has_usable_password()
        [listed] = api.get("/api/bots/").json()["bots"]
        assert listed["user"]["id"] == bot.pk and listed["tokens"][0]["id"] == body["token"]["id"]

    def test_a_bad_name_makes_no_bot(self, api):
        response = self.make_bot(api, username="no spaces allowed")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_request"
        assert not User.objects.filter(is_bot=True).exists()

    def test_a_bot_is_added_to_a_room_then_posts_and_reads(
        self, api, user, published, django_capture_on_commit_callbacks
    ):
        made = self.make_bot(api).json()
        secret, bot_id = made["token"]["token"], made["user"]["id"]
        room = RoomFactory(kind="private", members=[user])
        with django_capture_on_commit_callbacks(execute=True):
            added = post(api, f"/api/rooms/{room.pk}/members/", {"username": "helper"}, **csrf(api))
        assert added.status_code == 200
        assert ("room", room.pk, "member") in [p.brief for p in published]
        with django_capture_on_commit_callbacks(execute=True):
            sent = post(
                Client(),
                f"/api/rooms/{room.pk}/messages",
                {"body": "beep", "client_msg_id": str(uuid.uuid4())},
                **bearer(secret),
            )
        assert sent.status_code == 201
        assert sent.json()["author"]["is_bot"] is True
        [created] = [p for p in published if p.frame["type"] == "message"]
        assert created.target == room.pk and created.frame["message"]["author"]["id"] == bot_id
        page = Client().get(f"/api/rooms/{room.pk}/messages", **bearer(secret)).json()
        assert [m["body"] for m in page["messages"]] == ["beep"]
        assert Membership.objects.filter(room=room, user_id=bot_id).exists()

    def test_the_owner_renames_gives_tokens_and_deletes(self, api):
        bot_id = self.make_bot(api).json()["user"]["id"]
        renamed = api.patch(
            f"/api/bots/{bot_id}",
            {"display_name": "Pinger"},
            content_type="application/json",
            **csrf(api),
        )
        assert renamed.status_code == 200
        assert renamed.json()["user"]["display_name"] == "Pinger"
        second = post(api, f"/api/bots/{bot_id}/tokens/", {"name": "spare"}, **csrf(api))
        assert second.status_code == 201
        dropped = api.delete(f"/api/bots/{bot_id}/tokens/{second.json()['id']}", **csrf(api))
        assert dropped.status_code == 200
        assert Client().get("/api/rooms/", **bearer(second.json()["token"])).status_code == 401
        assert api.delete(f"/api/bots/{bot_id}", **csrf(api)).status_code == 200
        assert not User.objects.filter(pk=bot_id).exists()

    def test_someone_elses_bot_is_not_found_and_a_bot_manages_nothing(self, api, other_user):
        made = self.make_bot(api).json()
        theirs = Client()
        theirs.force_login(other_user)
        assert theirs.delete(f"/api/bots/{made['user']['id']}").status_code == 404
        as_bot = bearer(made["token"]["token"])
        for response in (
            Client().get("/api/tokens/", **as_bot),
            post(Client(), "/api/bots/", {"username": "child", "display_name": ""}, **as_bot),
        ):
            assert response.status_code == 403
        assert User.objects.filter(pk=made["user"]["id"]).exists()

    def test_a_bot_cannot_log_in_with_a_password(self, api):
        self.make_bot(api)
        client = Client()
        client.post("/accounts/login/", {"username": "helper", "password": ""})
        assert client.get("/api/rooms/").status_code == 401

    def test_making_bots_has_a_budget(self, api, settings, fresh_cache):
        settings.PARLEY_LIMITS = {**settings.PARLEY_LIMITS, "bot_create": (1, 3600)}
        assert self.make_bot(api).status_code == 201
        assert self.make_bot(api, username="second").status_code == 429
        assert User.objects.filter(is_bot=True).count() == 1


def test_a_webhooks_bot_is_not_on_the_bots_api(api, user):
    from chat import services

    room = RoomFactory(kind="private", members=[user])
    webhook, _secret = services.create_webhook(user, room.pk, "CI")
    assert api.get("/api/bots/").json() == {"bots": []}
    response = api.delete(f"/api/bots/{webhook.bot.pk}", **csrf(api))
    assert response.status_code == 404
    assert User.objects.filter(pk=webhook.bot.pk).exists()


def test_the_people_directory_marks_a_bot(api, user):
    post(api, "/api/bots/", {"username": "helper", "display_name": "Helper"}, **csrf(api))
    page = api.get("/people/").content.decode()
    assert page.count('class="tag tag-bot"') == 1
    assert '<span class="room-name person-name">Helper <span class="tag tag-bot">' in page
