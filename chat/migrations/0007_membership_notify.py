from django.db import migrations, models


def mute_to_nothing(apps, schema_editor):
    """A muted room notified of nothing: it keeps that as its level."""
    Membership = apps.get_model("chat", "Membership")
    Membership.objects.filter(muted=True).update(notify="nothing")


def nothing_to_mute(apps, schema_editor):
    Membership = apps.get_model("chat", "Membership")
    Membership.objects.filter(notify="nothing").update(muted=True)


class Migration(migrations.Migration):
    """`muted` becomes the level `nothing` of the new per-room notification setting."""

    dependencies = [
        ("chat", "0006_attachment"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="notify",
            field=models.CharField(
                choices=[
                    ("default", "Default"),
                    ("all", "All messages"),
                    ("mentions", "Mentions and direct messages"),
                    ("nothing", "Nothing"),
                ],
                default="default",
                max_length=8,
            ),
        ),
        migrations.RunPython(mute_to_nothing, nothing_to_mute),
        migrations.RemoveField(
            model_name="membership",
            name="muted",
        ),
    ]
