"""Downloading one's data: a JSON file of the profile and every message one wrote,
streamed in pieces, only one's own, only when logged in."""

import json
import tracemalloc
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from accounts import export
from chat.models import Message
from tests.factories import RoomFactory, UserFactory, direct_room, send

pytestmark = pytest.mark.django_db


def download(client):
    response = client.get(reverse("download_data"))
    assert response.status_code == 200
    return response, json.loads(b"".join(response.streaming_content))


def test_it_needs_a_login(client):
    assert client.get(reverse("download_data")).url.startswith(reverse("login"))


def test_the_file_holds_the_profile_and_only_the_callers_messages(client, user, other_user):
    user.bio, user.email, user.time_zone = "Hi", "alice@example.com", "Europe/Berlin"
    user.save()
    room = RoomFactory(name="general", members=[user, other_user])
    dm = direct_room(user, other_user)
    send(user, room, "first")
    send(other_user, room, "not mine")
    send(user, dm, "psst")
    gone = send(user, room, "deleted later")
    Message.objects.filter(pk=gone.pk).update(body="", deleted_at=timezone.now())
    client.force_login(user)

    response, data = download(client)
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="parley-alice.json"'
    assert response["Cache-Control"] == "private, no-store"
    assert data["profile"] == {
        "username": "alice",
        "display_name": "Alice",
        "bio": "Hi",
        "time_zone": "Europe/Berlin",
        "email": "alice@example.com",
        "email_confirmed": False,
        "date_joined": data["profile"]["date_joined"],
        "avatar": None,
    }
    assert data["profile"]["date_joined"].endswith("Z")
    rows = [(m["room"], m["room_kind"], m["seq"], m["body"]) for m in data["messages"]]
    assert rows == [("general", "public", 1, "first"), ("", "direct", 1, "psst")]
    first = data["messages"][0]
    assert set(first) == {"room", "room_kind", "room_id", "seq", "body", "created_at", "edited_at"}
    assert (first["room_id"], first["edited_at"]) == (room.pk, None)


def test_no_messages_is_an_empty_list(client, user):
    client.force_login(user)
    assert download(client)[1]["messages"] == []


def test_a_long_history_goes_out_in_pieces_without_being_held_whole(client, user, monkeypatch):
    room = RoomFactory(name="general", members=[user])
    body = "x" * 1000
    now = timezone.now()
    Message.objects.bulk_create(
        Message(room=room, seq=seq, author=user, body=body, created_at=now,
                client_msg_id=uuid.uuid4())
        for seq in range(1, 3001)
    )  # fmt: skip
    monkeypatch.setattr(export, "BATCH", 100)
    client.force_login(user)
    response = client.get(reverse("download_data"))
    tracemalloc.start()
    pieces = sizes = 0
    for piece in response.streaming_content:
        pieces += 1
        sizes += len(piece)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert pieces >= 30
    assert sizes > 3_000_000
    assert peak < 1_000_000  # a batch at a time, not 3 MB of messages


def test_downloads_are_limited(client, user, settings, fresh_cache):
    settings.PARLEY_LIMITS = {**settings.PARLEY_LIMITS, "data_export": (1, 3600)}
    client.force_login(user)
    download(client)
    again = client.get(reverse("download_data"))
    assert again.url == reverse("profile")


@pytest.mark.django_db(transaction=True)
async def test_under_asgi_the_messages_come_from_an_async_iterator(async_client):
    def make():
        alice = UserFactory(username="alice")
        send(alice, RoomFactory(name="general", members=[alice]), "hello")
        return alice

    alice = await sync_to_async(make)()
    await async_client.aforce_login(alice)
    try:
        response = await async_client.get(reverse("download_data"))
        assert response.is_async
        body = b"".join([piece async for piece in response.streaming_content])
    finally:  # the connection the async reads opened in asgiref's thread
        await sync_to_async(connections.close_all)()
    assert [m["body"] for m in json.loads(body)["messages"]] == ["hello"]
