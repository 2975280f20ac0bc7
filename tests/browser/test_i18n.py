"""A German browser in New York: German interface, times in the viewer's zone."""

import re
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import LiveServer, Person
from tests.browser.test_chat_client import MESSAGES, join_room, send_from_composer


@pytest.fixture
def german_in_new_york(browser: Browser, parley_server: LiveServer):
    context = browser.new_context(locale="de-DE", timezone_id="America/New_York")
    person = Person(context, parley_server, f"greta-{uuid.uuid4().hex[:6]}")
    person.register().close()
    yield person
    context.close()


def test_german_browser_gets_german_pages_client_strings_and_new_york_times(german_in_new_york):
    person = german_in_new_york
    page = person.new_page()
    page.goto(person.server.url)
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("#rooms-heading")).to_have_text("Deine Räume")
    room = f"stammtisch {uuid.uuid4().hex[:6]}"
    join_room(page, room)
    # Server-rendered and client strings alike.
    expect(page.locator("#sidebar-heading")).to_have_text("Räume")
    expect(page.locator("#connection-text")).to_have_text("Verbunden")
    expect(page.locator("#composer-input")).to_have_attribute(
        "placeholder", f"Nachricht an #{room}"
    )
    expect(page.locator("#composer-attach")).to_have_attribute("title", "Dateien anhängen")
    # The members panel: its template heading and the client's own strings.
    page.locator("#members-toggle").click()
    expect(page.locator("#members-heading")).to_have_text("Mitglieder")
    expect(page.locator("#members-status")).to_have_text("1 Mitglied")
    expect(page.locator("#member-list li")).to_contain_text("Eigentümer")

    send_from_composer(page, "Guten Morgen")
    expect(page.locator(MESSAGES)).to_have_text(["Guten Morgen"])
    stamp = page.locator("#messages li.msg time.msg-time").first
    sent_at = datetime.fromisoformat(stamp.get_attribute("datetime").replace("Z", "+00:00"))
    in_new_york = sent_at.astimezone(ZoneInfo("America/New_York"))
    assert in_new_york.utcoffset() != sent_at.utcoffset()
    expect(stamp).to_have_text(re.compile(rf"^0?{in_new_york.hour}:{in_new_york.minute:02d}$"))
    # The title spells the day out in German.
    expect(stamp).to_have_attribute(
        "title", re.compile(r"(Montag|Dienstag|Mittwoch|Donnerstag|Freitag|Samstag|Sonntag), ")
    )
    assert person.errors == []


def test_german_browser_gets_german_error_details_from_the_api(german_in_new_york):
    page = german_in_new_york.new_page()
    page.goto(german_in_new_york.server.url)
    detail = page.evaluate(
        """async () => {
            const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
            const response = await fetch("/api/rooms/", {
                method: "POST",
                headers: {"Content-Type": "application/json", "X-CSRFToken": token},
                body: JSON.stringify({name: "<b>"}),
            });
            return (await response.json()).error.detail;
        }"""
    )
    assert detail == "Ein Raumname darf Buchstaben, Ziffern, Leerzeichen, „-“ und „_“ enthalten."


def test_the_emoji_picker_speaks_german_and_finds_emoji_by_their_german_names(
    german_in_new_york,
):
    person = german_in_new_york
    page = person.new_page()
    page.goto(person.server.url)
    join_room(page, f"emoji {uuid.uuid4().hex[:6]}")
    expect(page.locator("#composer-emoji")).to_have_attribute("aria-label", "Emoji einfügen")
    page.locator("#composer-emoji").click()
    picker = page.locator("#emoji-picker")
    expect(picker).to_have_attribute("aria-label", "Emoji einfügen")
    expect(picker.locator(".emoji-tone")).to_have_attribute("aria-label", "Hautfarbe")
    expect(picker.locator(".emoji-section-title")).to_have_text(["Alle Emoji"])
    picker.locator(".emoji-search").fill("daumen hoch")
    expect(picker.locator(".emoji-option").first).to_have_text("👍")
    expect(picker.locator(".emoji-option").first).to_have_attribute("aria-label", "daumen hoch")
    expect(picker.locator(".emoji-status")).to_contain_text("Emoji gefunden")
    picker.locator(".emoji-search").fill("thumbs up")  # English names work too
    expect(picker.locator(".emoji-option").first).to_have_text("👍")
    assert person.errors == []
