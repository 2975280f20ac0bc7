import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0012_webhooks"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="message",
            name="message_room_rev",
        ),
        # Each AlterField only drops the column's own index; on SQLite Django would
        # rebuild the whole table four times for it, so the indexes go by name (Django's
        # names, the same on SQLite and PostgreSQL).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="message",
                    name="author",
                    field=models.ForeignKey(
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="messages",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="reply_to",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="chat.message",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="room",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="chat.room",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="thread_root",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="thread_replies",
                        to="chat.message",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX "chat_message_author_id_923569d5"',
                    reverse_sql='CREATE INDEX "chat_message_author_id_923569d5" ON "chat_message" ("author_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX "chat_message_reply_to_id_afede338"',
                    reverse_sql='CREATE INDEX "chat_message_reply_to_id_afede338" ON "chat_message" ("reply_to_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX "chat_message_room_id_5e7d8d78"',
                    reverse_sql='CREATE INDEX "chat_message_room_id_5e7d8d78" ON "chat_message" ("room_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX "chat_message_thread_root_id_7088e73c"',
                    reverse_sql='CREATE INDEX "chat_message_thread_root_id_7088e73c" ON "chat_message" ("thread_root_id")',
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("rev__gt", 0)),
                fields=["room", "rev"],
                name="message_room_changed",
            ),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("reply_to__isnull", False)),
                fields=["reply_to"],
                name="message_reply_to",
            ),
        ),
    ]
