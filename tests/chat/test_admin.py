import uuid

import pytest
from django.test import TestCase
from django.urls import reverse

from chat import services
from chat.errors import ChatError
from chat.models import Attachment, Membership, Message, Room, room_name_key
from tests.factories import RoomFactory, UserFactory, direct_room, send, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "model",
    [
        "accounts_user",
        "chat_room",
        "chat_membership",
        "chat_message",
        "chat_attachment",
        "chat_webhook",
    ],
)
def test_every_model_has_a_searchable_list(admin_client, model, user):
    send(user, RoomFactory(name="lobby", members=[user]), "hello there")
    response = admin_client.get(reverse(f"admin:{model}_changelist"), {"q": "l"})
    assert response.status_code == 200


def test_room_and_message_pages_open_for_a_real_room(admin_client, user):
    room = RoomFactory(name="lobby", members=[user])
    message = send(user, room, "hello there")
    assert admin_client.get(reverse("admin:chat_room_change", args=[room.pk])).status_code == 200
    page = admin_client.get(reverse("admin:chat_message_change", args=[message.pk]))
    assert b"hello there" in page.content


@pytest.mark.parametrize("model", ["chat_room", "chat_message"])
def test_rooms_and_messages_cannot_be_added_past_the_app_rules(admin_client, model):
    assert admin_client.get(reverse(f"admin:{model}_add")).status_code == 403


def change(admin_client, model, obj, data):
    """Post the change form as the page would, with its inlines' forms as they are."""
    url = reverse(f"admin:chat_{model}_change", args=[obj.pk])
    page = admin_client.get(url)
    fields = {}
    for inline in page.context["inline_admin_formsets"] if page.status_code == 200 else []:
        management = inline.formset.management_form
        for form in [management, *inline.formset.forms]:
            for name in form.fields:
                if form[name].value() is not None:
                    fields[form.add_prefix(name)] = form[name].value()
    return admin_client.post(url, {**fields, **data}, follow=True)


def test_renaming_a_room_in_the_admin_is_heard_and_keeps_names_unique(
    admin_client, user, published, django_capture_on_commit_callbacks
):
    room = RoomFactory(name="lobby", members=[user])
    with django_capture_on_commit_callbacks(execute=True):
        change(admin_client, "room", room, {"name": "Team", "topic": "ship it"})
    room.refresh_from_db()
    assert (room.name, room.topic, room.name_key) == ("Team", "ship it", room_name_key("Team"))
    assert [p.brief for p in published] == [("room", room.pk, "room.updated")]


def test_a_room_name_taken_or_invalid_is_refused_in_the_admin(admin_client, user, published):
    RoomFactory(name="Lobby")
    room = RoomFactory(name="general", members=[user])
    for bad in ["lobby", "bell\x07", ""]:
        page = change(admin_client, "room", room, {"name": bad, "topic": ""})
        assert page.context["adminform"].form.errors, bad
    assert Room.objects.get(pk=room.pk).name == "general"
    assert published == []


def test_the_admin_names_a_private_room_as_it_likes(admin_client, user, published):
    RoomFactory(name="Lobby")
    RoomFactory(name="secret", kind="private")
    room = RoomFactory(name="general", kind="private", members=[user])
    for name in ["lobby", "Secret"]:
        change(admin_client, "room", room, {"name": name, "topic": ""})
        assert Room.objects.get(pk=room.pk).name == name


def test_deleting_a_room_in_the_admin_tells_every_member_first(
    admin_client, user, other_user, published
):
    room = RoomFactory(name="lobby", members=[user, other_user])
    send(user, room, "hello")
    published.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        admin_client.post(reverse("admin:chat_room_delete", args=[room.pk]), {"post": "yes"})
    assert not Room.objects.filter(pk=room.pk).exists()
    revoked = [(p.target, p.frame) for p in published if p.to == "revoke"]
    assert sorted(revoked, key=lambda r: r[0]) == [
        (user.pk, {"type": "room.removed", "room": room.pk}),
        (other_user.pk, {"type": "room.removed", "room": room.pk}),
    ]


def test_adding_a_member_in_the_admin_gives_their_sockets_the_room(
    admin_client, user, other_user, published, django_capture_on_commit_callbacks
):
    room = RoomFactory(name="lobby", kind="private", members=[user])
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:chat_membership_add"),
            {"room": room.pk, "user": other_user.pk, "role": "member"},
        )
    assert Membership.objects.filter(room=room, user=other_user, role="member").exists()
    assert [p.brief for p in published] == [
        ("grant", other_user.pk, "room"),
        ("room", room.pk, "member"),
    ]
    assert published[0].room == room.pk


def test_a_role_change_in_the_admin_is_heard_and_a_room_keeps_an_owner(
    admin_client, user, other_user, published, django_capture_on_commit_callbacks
):
    room = RoomFactory(name="lobby", members=[user, other_user])
    owner = Membership.objects.get(room=room, user=user)
    member = Membership.objects.get(room=room, user=other_user)
    owner.role = "owner"
    owner.save()
    with django_capture_on_commit_callbacks(execute=True):
        change(admin_client, "membership", member, {"role": "admin"})
    assert Membership.objects.get(pk=member.pk).role == "admin"
    assert [p.brief for p in published] == [
        ("user", other_user.pk, "room"),
        ("room", room.pk, "member"),
    ]

    page = change(admin_client, "membership", owner, {"role": "member"})
    assert Membership.objects.get(pk=owner.pk).role == "owner"
    assert "A room needs an owner" in page.content.decode()
    assert "was changed successfully" not in page.content.decode()


def test_removing_a_member_in_the_admin_stops_their_sockets_and_passes_on_ownership(
    admin_client, user, other_user, published, django_capture_on_commit_callbacks
):
    room = RoomFactory(name="lobby", members=[user, other_user])
    owner = Membership.objects.get(room=room, user=user)
    owner.role = "owner"
    owner.save()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:chat_membership_delete", args=[owner.pk]), {"post": "yes"})
    assert not Membership.objects.filter(pk=owner.pk).exists()
    assert Membership.objects.get(room=room, user=other_user).role == "owner"
    assert published[0].room == room.pk
    assert [p.brief for p in published] == [
        ("revoke", user.pk, "room.removed"),
        ("room", room.pk, "member"),
        ("user", other_user.pk, "room"),
        ("room", room.pk, "member"),
    ]


def test_a_direct_conversation_keeps_its_two_people_in_the_admin(admin_client, user, other_user):
    room = direct_room(user, other_user)
    membership = Membership.objects.get(room=room, user=user)
    page = admin_client.post(
        reverse("admin:chat_membership_delete", args=[membership.pk]), {"post": "yes"}
    )
    assert page.status_code == 403
    assert Membership.objects.filter(room=room).count() == 2


def test_messages_are_read_only_in_the_admin_and_deleted_as_tombstones(
    admin_client, user, published, django_capture_on_commit_callbacks
):
    room = RoomFactory(name="lobby", members=[user])
    message = send(user, room, "spam spam")
    page = change(admin_client, "message", message, {"body": "rewritten"})
    assert Message.objects.get(pk=message.pk).body == "spam spam"
    assert page.status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:chat_message_changelist"),
            {"action": "tombstone", "_selected_action": [message.pk]},
        )
    message.refresh_from_db()
    assert (message.seq, message.body, message.deleted_at is not None) == (1, "", True)
    assert [p.brief for p in published] == [("room", room.pk, "message.deleted")]


def test_deleting_an_attachment_in_the_admin_updates_its_message_on_screens(
    admin_client, user, published, django_capture_on_commit_callbacks
):
    room = RoomFactory(name="lobby", members=[user])
    with_text, only_files = upload(user, room), upload(user, room)
    captioned = services.send_message(
        user, room.pk, "look", str(uuid.uuid4()), attachments=(with_text.pk,)
    )[0]
    bare = services.send_message(
        user, room.pk, "", str(uuid.uuid4()), attachments=(only_files.pk,)
    )[0]
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        for attachment in (with_text, only_files):
            url = reverse("admin:chat_attachment_delete", args=[attachment.pk])
            admin_client.post(url, {"post": "yes"})
    assert not Attachment.objects.exists()
    captioned.refresh_from_db()
    bare.refresh_from_db()
    assert (captioned.body, captioned.deleted_at, captioned.rev > 0) == ("look", None, True)
    assert bare.deleted_at is not None
    assert [p.brief for p in published] == [
        ("room", room.pk, "message.updated"),
        ("room", room.pk, "message.deleted"),
    ]


def test_staff_see_webhooks_without_secrets_and_revoke_them_as_an_owner_would(
    admin_client, user, other_user, published, django_capture_on_commit_callbacks
):
    room = RoomFactory(name="builds", kind="private", members=[user, other_user])
    webhook, secret = services.create_webhook(user, room.pk, "CI")
    page = admin_client.get(reverse("admin:chat_webhook_change", args=[webhook.pk]))
    assert page.status_code == 200
    assert webhook.secret_hash not in page.content.decode() and secret not in page.content.decode()
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:chat_webhook_changelist"),
            {"action": "revoke", "_selected_action": [webhook.pk]},
        )
    webhook.refresh_from_db()
    webhook.bot.refresh_from_db()
    assert webhook.revoked_at is not None and not webhook.bot.is_active
    assert not Membership.objects.filter(room=room, user=webhook.bot).exists()
    assert ("room", room.pk, "member") in [p.brief for p in published]
    with pytest.raises(ChatError):
        services.post_to_webhook(secret, "still there?")
    assert not Message.objects.filter(room=room, author=webhook.bot).exists()
