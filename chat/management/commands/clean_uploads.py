"""Delete uploads never attached to a message, and stray files; run daily (cron, a timer)."""

from datetime import timedelta

from django.core.management.base import BaseCommand

from chat import services


class Command(BaseCommand):
    help = "Delete uploads not sent within --hours (default 24) and files no upload names."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--hours", type=float, default=24.0)

    def handle(self, *args, hours: float, **options) -> None:
        rows, strays = services.clean_stale_uploads(timedelta(hours=hours))
        self.stdout.write(f"Deleted {rows} unsent upload(s) and {strays} stray file(s).")
