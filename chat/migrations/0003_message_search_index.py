from django.db import migrations

INDEX = "chat_message_body_search"


def create_index(apps, schema_editor):
    """A GIN index for full-text search, on PostgreSQL only (chat/search.py)."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON chat_message "
            "USING gin (to_tsvector('simple'::regconfig, COALESCE(body, '')))"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("chat", "0002_message_extras")]

    operations = [migrations.RunPython(create_index, drop_index)]
