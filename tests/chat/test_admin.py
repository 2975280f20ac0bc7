import pytest
from django.urls import reverse

from tests.factories import RoomFactory, UserFactory, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "model", ["accounts_user", "chat_room", "chat_membership", "chat_message", "chat_attachment"]
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
