"""The README's screenshots: `make screenshots` (python -m tests.browser.screenshots).

Starts the real server (as the browser tests do: own port, own SQLite file) with the
demo data dated at a fixed moment, logs in as Ada, and saves the main screen at
desktop (1280×800) and phone (390×844) width, in light and dark, to docs/screenshots/.
The browser's clock, time zone and locale are fixed too, so a rerun on unchanged code
gives the same pictures.
"""

import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import django
from playwright.sync_api import Browser, expect, sync_playwright

# The browser tests' server helper comes with the test suite's imports, which need Django.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from chat.management.commands import seed_demo  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer  # noqa: E402
from tests.support import ROOT  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CONVERSATION_START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 9, 45, tzinfo=UTC)
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
SCHEMES = ("light", "dark")
READ_GENERAL = """
from chat.models import Membership
read = Membership.objects.select_related("room").get(user__username="ada", room__name="general")
read.last_read_seq = read.room.last_seq
read.save(update_fields=["last_read_seq"])
"""


def shoot(browser: Browser, server: LiveServer, size: str, scheme: str) -> Path:
    context = browser.new_context(
        viewport=SIZES[size],
        color_scheme=scheme,
        locale="en-US",
        timezone_id="UTC",
        reduced_motion="reduce",
    )
    page = context.new_page()
    page.clock.set_fixed_time(NOW)
    page.goto(f"{server.url}/accounts/login/")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", "parley-demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")
    page.goto(server.url + page.locator("#home-rooms a", has_text="general").get_attribute("href"))
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    # The room's timeline: every line but the thread replies (their root says so).
    lines = seed_demo.CONVERSATIONS["general"]
    shown = sum(1 for _author, _body, extras in lines if "thread" not in extras)
    expect(page.locator("#messages li.msg")).to_have_count(shown)
    expect(page.locator("#messages .thread-line").first).to_be_visible()
    expect(page.locator("#messages button.reaction").first).to_be_visible()
    page.locator("#composer-input").blur()
    page.mouse.move(0, 0)  # no hover left over from the login click
    path = OUT / f"{size}-{scheme}.png"
    page.screenshot(path=path, animations="disabled", caret="hide")
    context.close()
    return path


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="parley-screenshots-") as tmp:
        server = LiveServer(Path(tmp))
        server.manage("migrate", "--noinput")
        server.manage("seed_demo", "--at", CONVERSATION_START.isoformat())
        # Ada has read #general (the room shown), so every picture shows it alike: the first
        # one opening it would otherwise have its "New messages" line, and the rest not.
        server.manage("shell", "-c", READ_GENERAL)
        with server.running(), sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for size in SIZES:
                for scheme in SCHEMES:
                    print(shoot(browser, server, size, scheme).relative_to(ROOT))
            browser.close()


if __name__ == "__main__":
    sys.exit(main())
