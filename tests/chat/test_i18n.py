"""The interface speaks the viewer's language: pages, error details, the client's catalogue."""

import json
import re
import uuid
from pathlib import Path

import polib
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from chat.i18n import client_catalog_path, language_from_handshake, load_client_catalog
from tests.factories import RoomFactory, UserFactory
from tests.wsclient import open_tab

ROOT = Path(settings.BASE_DIR)
I18N_JS = ROOT / "chat" / "static" / "chat" / "i18n.js"
TRANSLATED = [code for code, _name in settings.LANGUAGES if code != "en"]
PLACEHOLDER = re.compile(r"%\(\w+\)s|%s|%d")


def client_msgids() -> list[str]:
    """The keys of i18n.js's STRINGS: every English text the browser client shows."""
    source = I18N_JS.read_text(encoding="utf-8")
    body = source[source.index("const STRINGS = {") : source.index("\n};")]
    return [json.loads(key) for key in re.findall(r'^  ("(?:[^"\\]|\\.)*")\s*:', body, re.M)]


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


@pytest.fixture
def german(user):
    client = Client(headers={"accept-language": "de-DE,de;q=0.9,en;q=0.5"})
    client.force_login(user)
    return client


@pytest.fixture
def english(user):
    client = Client(headers={"accept-language": "en-US,en;q=0.9"})
    client.force_login(user)
    return client


class TestPages:
    def test_german_accept_language_gets_a_german_page_with_the_german_client_catalogue(
        self, german
    ):
        page = german.get(reverse("home")).content.decode()
        assert '<html lang="de">' in page
        assert "Deine Räume" in page
        assert "Raum betreten oder erstellen" in page
        assert 'id="parley-i18n"' in page
        assert "Nachricht an %s" in page

    def test_english_accept_language_gets_english_and_no_catalogue(self, english):
        page = english.get(reverse("home")).content.decode()
        assert '<html lang="en">' in page
        assert "Your rooms" in page
        assert "Deine Räume" not in page
        assert 'id="parley-i18n"' not in page

    def test_the_chosen_language_outranks_the_browsers(self, english):
        english.get(reverse("profile"))
        response = english.post(reverse("set_language"), {"language": "de", "next": "/"})
        assert response.status_code == 302
        assert "Deine Räume" in english.get(reverse("home")).content.decode()

    def test_the_profile_page_offers_every_language_in_its_own_name(self, english):
        page = english.get(reverse("profile")).content.decode()
        assert f'action="{reverse("set_language")}"' in page
        assert ">English</option>" in page
        assert ">Deutsch</option>" in page

    def test_the_profile_form_is_in_german_help_texts_included(self, german):
        page = german.get(reverse("profile")).content.decode()
        assert "Anzeigename" in page
        assert "PNG, JPEG, GIF oder WebP, höchstens 2,0" in page

    def test_a_form_error_is_in_german(self, german):
        response = german.post(reverse("join"), {"name": "no/slashes"})
        assert response.status_code == 400
        assert "Ein Raumname darf Buchstaben" in response.content.decode()


class TestApiErrors:
    def test_a_user_facing_api_error_is_in_german(self, german):
        response = german.post(
            reverse("api-rooms"), json.dumps({"name": "  "}), content_type="application/json"
        )
        assert response.status_code == 400
        assert response.json()["error"] == {
            "code": "bad_request",
            "detail": "Ein Raumname hat 1 bis 64 Zeichen.",
        }

    def test_the_same_api_error_is_in_english_for_an_english_browser(self, english):
        response = english.post(
            reverse("api-rooms"), json.dumps({"name": "  "}), content_type="application/json"
        )
        assert response.json()["error"]["detail"] == "A room name has 1 to 64 characters."

    def test_a_room_not_found_is_in_german(self, german):
        assert german.get(reverse("api-room", args=[999999])).json()["error"]["detail"] == (
            "Diesen Raum gibt es nicht."
        )


class TestUploadErrors:
    @pytest.mark.parametrize(
        ("client_fixture", "start"),
        [
            ("german", "Diese Art von Datei wird nicht angenommen"),
            ("english", "This kind of file is not accepted"),
        ],
    )
    def test_an_upload_refused_for_its_type_says_so_in_the_browsers_language(
        self, request, user, upload_root, client_fixture, start
    ):
        client = request.getfixturevalue(client_fixture)
        room = RoomFactory(members=[user])
        html = SimpleUploadedFile("cat.png", b"<!doctype html><html></html>", "image/png")
        response = client.post(reverse("api-uploads", args=[room.pk]), {"file": html})
        assert response.status_code == 400
        assert response.json()["error"]["detail"].startswith(start)


@pytest.mark.django_db(transaction=True)
class TestSocketErrors:
    @pytest.mark.parametrize(
        ("headers", "detail"),
        [
            ((b"accept-language", b"de-DE,de;q=0.9"), "Eine Nachricht darf nicht leer sein."),
            ((b"accept-language", b"en-US"), "A message cannot be empty."),
            ((b"cookie", b"django_language=de"), "Eine Nachricht darf nicht leer sein."),
        ],
    )
    async def test_an_error_frame_speaks_the_language_of_the_handshake(self, headers, detail):
        alice = await sync_to_async(UserFactory)(username="alice")
        room = await sync_to_async(RoomFactory)(name="general", members=[alice])
        async with open_tab(alice, headers=(headers,)) as tab:
            frame = {
                "type": "send",
                "room": room.pk,
                "body": " ",
                "client_msg_id": str(uuid.uuid4()),
            }
            error = await tab.request(frame, "error")
        assert error["detail"] == detail


class TestLanguageOfHandshake:
    def test_cookie_outranks_accept_language(self):
        headers = [(b"accept-language", b"en")]
        assert language_from_handshake(headers, {"django_language": "de"}) == "de"

    def test_accept_language_picks_the_best_supported_language(self):
        headers = [(b"accept-language", b"fr-FR,de-AT;q=0.8,en;q=0.5")]
        assert language_from_handshake(headers, {}) == "de"

    def test_an_unsupported_language_falls_back_to_english(self):
        assert language_from_handshake([(b"accept-language", b"fr-FR")], {}) == "en"


class TestClientCatalogue:
    def test_the_catalogue_lists_strings(self):
        assert "Connecting…" in client_msgids()
        assert len(client_msgids()) == len(set(client_msgids()))

    def test_every_string_the_client_code_translates_is_in_the_catalogue(self):
        called = set()
        for source in I18N_JS.parent.glob("*.js"):
            text = source.read_text(encoding="utf-8")
            called |= {json.loads(m) for m in re.findall(r'\bt\(\s*("(?:[^"\\]|\\.)*")', text)}
        assert "Connected" in called
        assert called - set(client_msgids()) == set()

    @pytest.mark.parametrize("language", TRANSLATED)
    def test_every_client_string_has_a_translation_with_the_same_placeholders(self, language):
        catalog = json.loads(client_catalog_path(language).read_text(encoding="utf-8"))
        missing = [msgid for msgid in client_msgids() if not catalog.get(msgid, "").strip()]
        assert missing == []
        mismatched = [
            msgid
            for msgid in client_msgids()
            if placeholders(msgid) != placeholders(catalog[msgid])
        ]
        assert mismatched == []

    @pytest.mark.parametrize("language", TRANSLATED)
    def test_the_translation_has_no_string_the_client_no_longer_uses(self, language):
        catalog = load_client_catalog(language)
        assert set(catalog) - set(client_msgids()) == set()

    def test_english_needs_no_catalogue(self):
        assert load_client_catalog("en") == {}


class TestDjangoCatalogue:
    @pytest.fixture(params=TRANSLATED)
    def po(self, request):
        return polib.pofile(ROOT / "locale" / request.param / "LC_MESSAGES" / "django.po")

    def test_the_po_has_no_fuzzy_or_untranslated_entry(self, po):
        assert [entry.msgid for entry in po.fuzzy_entries()] == []
        assert [entry.msgid for entry in po.untranslated_entries()] == []
        assert not po.metadata_is_fuzzy
        assert len(po.translated_entries()) > 100

    def test_every_translation_keeps_the_placeholders(self, po):
        assert [
            entry.msgid
            for entry in po.translated_entries()
            if placeholders(entry.msgid) != placeholders(entry.msgstr)
        ] == []

    def test_the_committed_mo_is_compiled_from_the_po(self, po):
        mo = polib.mofile(Path(po.fpath).with_suffix(".mo"))
        assert {entry.msgid: entry.msgstr for entry in mo if entry.msgid} == {
            entry.msgid: entry.msgstr for entry in po.translated_entries()
        }
