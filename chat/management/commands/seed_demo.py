"""Demo users, rooms and a little conversation, so a new install looks alive."""

import uuid
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.db.models import Max

from chat import services
from chat.models import Membership, Message, Pin, Room

DEMO_PASSWORD = "parley-demo"  # noqa: S105 (documented demo credential)
PEOPLE = [
    ("ada", "Ada Lovelace", "Analyst of engines."),
    ("grace", "Grace Hopper", "Finds bugs, literally."),
    ("linus", "Linus T.", "Mostly reads diffs."),
    ("margaret", "Margaret H.", "Ships to the moon."),
]
# (author, body, {"reply": index of an earlier line, "thread": index of the line whose
# thread it replies in, "reactions": [(who, emoji)], "pinned_by": who pins it})
CONVERSATIONS = {
    "general": [
        ("ada", "Welcome to Parley! This is the **general** room.", {"pinned_by": "ada"}),
        (
            "grace",
            "Hi all 👋 Messages here are stored, ordered and never doubled.",
            {"reactions": [("ada", "🎉"), ("linus", "🎉"), ("margaret", "👍")]},
        ),
        ("linus", "Try opening two tabs: both see everything live.", {}),
        ("grace", "Did: one tab offline, then back. Nothing missing.", {"thread": 2}),
        ("margaret", "Same on my phone.", {"thread": 2}),
        (
            "margaret",
            "Markdown works too: `make run`, *emphasis*, lists and links like "
            "https://www.djangoproject.com",
            {},
        ),
        ("ada", "@grace no gaps in the numbering, ever?", {"reply": 1}),
    ],
    "random": [
        ("margaret", "Anyone up for coffee?", {}),
        ("grace", "Always.", {"reactions": [("margaret", "☕")]}),
    ],
}
TOPICS = {"general": "Say hello · anything about Parley goes here"}
DIRECT = [("ada", "grace", "Grace, could you review my notes on the engine?")]


class Command(BaseCommand):
    help = f"Create demo users (password {DEMO_PASSWORD!r}), rooms and messages. Safe to rerun."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--at",
            help="Date the demo messages from this ISO time on, a minute apart "
            "(reproducible screenshots); default: now.",
        )

    @transaction.atomic
    def handle(self, *args, **options):
        users = {}
        model = get_user_model()
        for username, display_name, bio in PEOPLE:
            user, created = model.objects.get_or_create(
                username=username, defaults={"display_name": display_name, "bio": bio}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            users[username] = user
        for room_name, lines in CONVERSATIONS.items():
            room = None
            for username in users:
                room, _created = services.create_or_join_room(users[username], room_name)
            if not Message.objects.filter(room=room).exists():
                self.converse(users, room, lines)
                if room_name in TOPICS:
                    owner = room.memberships.get(role=Membership.Role.OWNER).user
                    services.update_room(owner, room.pk, topic=TOPICS[room_name])
        for sender, receiver, body in DIRECT:
            room, created = services.open_direct(users[sender], receiver)
            if created:
                services.send_message(users[sender], room.pk, body, str(uuid.uuid4()))
        if options.get("at"):
            self.date_messages(datetime.fromisoformat(options["at"]))
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: log in as any of {', '.join(users)} with password {DEMO_PASSWORD!r}."
            )
        )

    def converse(self, users: dict, room: Room, lines: list) -> None:
        sent = []
        for username, body, extras in lines:
            reply = sent[extras["reply"]].pk if "reply" in extras else None
            root = sent[extras["thread"]].pk if "thread" in extras else None
            message = services.send_message(
                users[username], room.pk, body, str(uuid.uuid4()), reply_to=reply, thread_root=root
            )[0]
            for who, emoji in extras.get("reactions", []):
                services.react(users[who], message.pk, emoji, on=True)
            if "pinned_by" in extras:
                services.pin_message(users[extras["pinned_by"]], room.pk, message.pk, on=True)
            sent.append(message)

    def date_messages(self, start: datetime) -> None:
        for minute, message in enumerate(Message.objects.order_by("pk")):
            message.created_at = start + timedelta(minutes=minute)
            message.save(update_fields=["created_at"])
        for room in Room.objects.annotate(latest=Max("messages__created_at")):
            room.last_message_at = room.latest
            room.save(update_fields=["last_message_at"])
        for root in Message.objects.annotate(latest=Max("thread_replies__created_at")).filter(
            latest__isnull=False
        ):
            root.thread_last_at = root.latest
            root.save(update_fields=["thread_last_at"])
        for pin in Pin.objects.select_related("message"):
            pin.pinned_at = pin.message.created_at
            pin.save(update_fields=["pinned_at"])
