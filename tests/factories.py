"""Model factories shared by every test module."""

import io
import uuid

import factory
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from chat import services
from chat.models import Attachment, Membership, Message, Room, direct_key, room_name_key

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.LazyAttribute(lambda u: u.username.title())
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class RoomFactory(factory.django.DjangoModelFactory):
    """A group room; pass kind="private" for a private one. Add members with `members=`."""

    class Meta:
        model = Room
        skip_postgeneration_save = True

    kind = Room.Kind.PUBLIC
    name = factory.Sequence(lambda n: f"room {n}")
    name_key = factory.LazyAttribute(lambda room: room_name_key(room.name))

    @factory.post_generation
    def members(room, create, extracted, **kwargs):
        for index, user in enumerate(extracted or []):
            role = Membership.Role.OWNER if index == 0 else Membership.Role.MEMBER
            Membership.objects.create(room=room, user=user, role=role)


def direct_room(user_a, user_b) -> Room:
    room = Room.objects.create(kind=Room.Kind.DIRECT, direct_key=direct_key(user_a.pk, user_b.pk))
    Membership.objects.bulk_create(
        [Membership(room=room, user=user_a), Membership(room=room, user=user_b)]
    )
    return room


def send(user, room, body: str = "hello") -> Message:
    """Store a message through the real send path."""
    return services.send_message(user, room.pk, body, str(uuid.uuid4()))[0]


def upload(user, room, name: str = "photo.png") -> Attachment:
    """A small PNG uploaded through the real path, not yet sent."""
    image = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(image, format="PNG")
    data = SimpleUploadedFile(name, image.getvalue(), content_type="image/png")
    return services.upload_attachment(user, room.pk, data)
