"""Attachments in the browser: attach, paste, upload, send, and the other side's thumbnail."""

import io
import re
import uuid

from PIL import Image
from playwright.sync_api import expect

from tests.browser.test_chat_client import join_room, send_from_composer

MESSAGES = "#messages li.msg:not(.msg-pending)"


def png(color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, format="PNG")
    return out.getvalue()


def test_an_attached_image_shows_as_a_thumbnail_for_the_other_member(people):
    alice, bob = people("alice"), people("bob")
    room = f"pictures {uuid.uuid4().hex[:6]}"
    alice_page, bob_page = alice.new_page(), bob.new_page()
    alice_page.goto(alice.server.url)
    bob_page.goto(bob.server.url)
    room_id = join_room(alice_page, room)
    assert join_room(bob_page, room) == room_id

    alice_page.set_input_files(
        "#composer-file",
        files=[{"name": "sunset.png", "mimeType": "image/png", "buffer": png("orange")}],
    )
    expect(alice_page.locator("#upload-tray .upload-done")).to_have_count(1)
    send_from_composer(alice_page, "look")

    thumb = bob_page.locator(f"{MESSAGES} .attachment-image img")
    expect(thumb).to_have_count(1)
    expect(thumb).to_have_attribute("alt", "sunset.png")
    expect(thumb).to_have_js_property("complete", True)
    assert thumb.evaluate("image => image.naturalWidth") > 0
    link = bob_page.locator(f"{MESSAGES} .attachment-image")
    expect(link).to_have_attribute("href", re.compile(r"^/files/\d+/sunset\.png$"))
    expect(alice_page.locator("#upload-tray")).to_be_hidden()
    assert alice.errors == [] and bob.errors == []


def test_a_refused_file_shows_its_error_and_a_text_file_sends_as_a_download(people):
    alice = people("alice")
    page = alice.new_page()
    page.goto(alice.server.url)
    join_room(page, f"files {uuid.uuid4().hex[:6]}")

    page.set_input_files(
        "#composer-file",
        files=[
            {"name": "evil.png", "mimeType": "image/png", "buffer": b"<html><script>1</script>"},
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"shopping list\n"},
        ],
    )
    expect(page.locator("#upload-tray .upload-failed .upload-error")).to_contain_text(
        "not accepted"
    )
    expect(page.locator("#upload-tray .upload-done")).to_have_count(1)
    page.locator("#upload-tray .upload-failed .upload-remove").click()
    page.locator("#composer-input").press("Enter")  # no text: the file alone is the message

    download = page.locator(f"{MESSAGES} .attachment-file")
    expect(download).to_have_count(1)
    expect(download.locator(".attachment-name")).to_have_text("notes.txt")
    expect(download).to_have_attribute("download", "notes.txt")
    # The console logs the refused upload's 400; nothing else may go wrong.
    assert [e for e in alice.errors if "400" not in e] == []


def test_an_image_pasted_or_dropped_into_the_composer_is_uploaded(people):
    alice = people("alice")
    page = alice.new_page()
    page.goto(alice.server.url)
    join_room(page, f"paste {uuid.uuid4().hex[:6]}")
    page.evaluate(
        """(bytes) => {
            const carrying = (name) => {
                const data = new DataTransfer();
                data.items.add(new File([new Uint8Array(bytes)], name, {type: "image/png"}));
                return data;
            };
            const input = document.getElementById("composer-input");
            input.dispatchEvent(new ClipboardEvent("paste", {
                clipboardData: carrying("pasted.png"), bubbles: true, cancelable: true,
            }));
            input.dispatchEvent(new DragEvent("drop", {
                dataTransfer: carrying("dropped.png"), bubbles: true, cancelable: true,
            }));
        }""",
        list(png("teal")),
    )
    expect(page.locator("#upload-tray .upload-done .upload-name")).to_have_text(
        ["pasted.png", "dropped.png"]
    )
    page.locator("#composer-input").press("Enter")
    expect(page.locator(f"{MESSAGES} .attachment-image img")).to_have_count(2)
    assert alice.errors == []
