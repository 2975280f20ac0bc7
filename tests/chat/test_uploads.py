"""Uploads: judged by content, images re-encoded, stored privately, served to readers only."""

import io
import os
import time
import uuid
import zipfile
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from PIL import Image

from chat import queries, services
from chat.content import uploads
from chat.errors import ChatError
from chat.models import Attachment
from chat.protocol.frames import attachment_dict, message_dict
from chat.queries import search_messages
from tests.factories import RoomFactory, UserFactory
from tests.support import peak_memory_of, refused
from tests.wsclient import open_tab

pytestmark = pytest.mark.django_db


def png_bytes(size=(40, 30), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (60, 40), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to show
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, comment=b"secret comment")
    return out.getvalue()


JUDGE_ATTACHMENT = """
try:
    processed = uploads.process(SimpleUploadedFile("image", data))
    result = f"{processed.width}x{processed.height}"
except ChatError as error:
    result = error.code
"""
JUDGE_IMPORTS = """
from django.core.files.uploadedfile import SimpleUploadedFile
from chat.content import uploads
from chat.errors import ChatError
"""


def pdf_bytes() -> bytes:
    return b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def docx_bytes(main: str = "wordprocessingml.document.main+xml") -> bytes:
    kind = f"application/vnd.openxmlformats-officedocument.{main}"
    if main.startswith("ms-"):
        kind = f"application/vnd.{main}"
    types = f'<Types><Override PartName="/word/document.xml" ContentType="{kind}"/></Types>'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr("word/document.xml", "<w/>")
    return out.getvalue()


def upload_file(name: str, data: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def room(user, other_user):
    return RoomFactory(kind="private", members=[user, other_user])


@pytest.fixture
def api(user):
    client = Client()
    client.force_login(user)
    return client


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def stored_files(root) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(folder, name), root)
        for folder, _dirs, names in os.walk(root)
        for name in names
    )


def upload(user, room, name="photo.png", data=None) -> Attachment:
    data = png_bytes() if data is None else data
    return services.upload_attachment(user, room.pk, upload_file(name, data))


def send_with(user, room, ids, body="", client_msg_id=None):
    return services.send_message(
        user, room.pk, body, client_msg_id or str(uuid.uuid4()), attachments=tuple(ids)
    )


class TestProcess:
    def test_a_png_is_reencoded_with_a_webp_thumbnail(self):
        processed = uploads.process(upload_file("a.png", png_bytes((800, 600))))
        assert processed.content_type == "image/png"
        assert (processed.width, processed.height) == (800, 600)
        with Image.open(io.BytesIO(processed.thumbnail)) as thumb:
            assert thumb.format == "WEBP"
            assert max(thumb.size) == 320

    def test_exif_and_comments_are_stripped_and_orientation_applied(self):
        original = jpeg_with_exif()
        with Image.open(io.BytesIO(original)) as before:
            assert before.getexif()[0x010F] == "SpyCam"
        processed = uploads.process(upload_file("cam.jpg", original))
        with Image.open(io.BytesIO(processed.data)) as after:
            assert after.format == "JPEG"
            assert dict(after.getexif()) == {}
            assert "comment" not in after.info and "exif" not in after.info
            assert after.size == (40, 60)  # turned upright
        assert b"SpyCam" not in processed.data and b"secret comment" not in processed.data

    def test_bytes_hidden_after_an_image_are_dropped(self):
        polyglot = png_bytes() + b"<script>alert(1)</script>"
        processed = uploads.process(upload_file("x.png", polyglot))
        assert b"<script>" not in processed.data

    def test_an_animated_gif_keeps_its_frames(self):
        frames = [Image.new("RGB", (20, 20), color) for color in ("red", "green", "blue")]
        out = io.BytesIO()
        frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=80)
        processed = uploads.process(upload_file("a.gif", out.getvalue()))
        with Image.open(io.BytesIO(processed.data)) as gif:
            assert (gif.format, gif.n_frames) == ("GIF", 3)
        with Image.open(io.BytesIO(processed.thumbnail)) as thumb:
            assert getattr(thumb, "n_frames", 1) == 1

    def test_html_named_png_is_refused(self):
        with pytest.raises(ChatError) as refused:
            uploads.process(upload_file("cat.png", b"<html><script>alert(1)</script></html>"))
        assert refused.value.code == "bad_request"

    def test_svg_is_refused(self):
        svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
        with pytest.raises(ChatError):
            uploads.process(upload_file("a.svg", svg, "image/svg+xml"))

    def test_a_decompression_bomb_is_refused_before_decoding(self, monkeypatch):
        monkeypatch.setattr(uploads, "MAX_PIXELS", 1000)
        with pytest.raises(ChatError) as refused:
            uploads.process(upload_file("big.png", png_bytes((100, 100))))
        assert refused.value.code == "too_large"

    def test_an_image_pillow_calls_a_bomb_is_too_large_not_of_a_wrong_type(self, monkeypatch):
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
        with pytest.raises(ChatError) as refused:
            uploads.process(upload_file("big.png", png_bytes((100, 100))))
        assert refused.value.code == "too_large"

    def test_an_image_over_the_decoding_cap_is_refused_from_its_header(self):
        side = 4097
        data = io.BytesIO()
        Image.new("RGB", (side, side)).save(data, format="PNG")
        refused("too_large", uploads.process, SimpleUploadedFile("big.png", data.getvalue()))

    @pytest.mark.parametrize(
        ("size", "kind", "stored"),
        [
            ((6324, 6324), "PNG", None),  # refused from its header, as above
            ((4096, 4096), "PNG", (4096, 4096)),  # the largest image decoded in full
            ((8000, 6000), "JPEG", (4000, 3000)),  # a phone photo, decoded at half size
        ],
    )
    def test_decoding_an_image_takes_bounded_memory(self, tmp_path, size, kind, stored):
        """Peak memory a process gains judging one image (was ~460 MB for 6324×6324)."""
        path = tmp_path / f"image.{kind.lower()}"
        Image.new("RGB", size, (10, 200, 30)).save(path, format=kind)
        grown_mib, result = peak_memory_of(JUDGE_IMPORTS, JUDGE_ATTACHMENT, path)
        assert result == (f"{stored[0]}x{stored[1]}" if stored else "too_large")
        assert grown_mib < 120

    def test_a_truncated_image_is_refused(self):
        with pytest.raises(ChatError) as refused:
            uploads.process(upload_file("cut.png", png_bytes((300, 300))[:120]))
        assert refused.value.code == "bad_request"

    def test_a_pdf_keeps_its_bytes_and_gets_its_extension(self):
        processed = uploads.process(upload_file("report.png", pdf_bytes()))
        assert (processed.content_type, processed.data) == ("application/pdf", pdf_bytes())
        assert processed.name == "report.png.pdf"
        assert processed.thumbnail is None

    def test_a_docx_is_told_from_a_macro_enabled_document(self):
        docx = uploads.process(upload_file("a.docx", docx_bytes()))
        assert docx.content_type.endswith("wordprocessingml.document")
        with pytest.raises(ChatError):
            uploads.process(
                upload_file("a.docx", docx_bytes("ms-word.document.macroEnabled.main+xml"))
            )

    def test_junk_that_starts_like_a_zip_is_refused(self):
        with pytest.raises(ChatError):
            uploads.process(upload_file("a.docx", b"PK\x03\x04" + os.urandom(200)))

    def test_a_plain_zip_is_a_zip(self):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("notes.txt", "hi")
        processed = uploads.process(upload_file("bundle", out.getvalue()))
        assert (processed.content_type, processed.name) == ("application/zip", "bundle.zip")

    def test_plain_text_is_accepted_and_binary_junk_refused(self):
        text = uploads.process(upload_file("notes", "héllo\nworld\n".encode()))
        assert (text.content_type, text.name) == ("text/plain", "notes.txt")
        with pytest.raises(ChatError):
            uploads.process(upload_file("junk.txt", os.urandom(512)))

    @pytest.mark.parametrize(
        ("given", "cleaned"),
        [
            ("../../etc/passwd", "passwd"),
            ("C:\\Users\\me\\pic.png", "pic.png"),
            ("..hidden", "hidden"),
            ("a\x00b\u202ec.png", "abc.png"),
            ("", "file"),
        ],
    )
    def test_names_lose_paths_and_control_characters(self, given, cleaned):
        assert uploads.clean_name(given) == cleaned

    def test_a_long_name_keeps_its_extension(self):
        name = uploads.clean_name("x" * 500 + ".pdf")
        assert len(name) == uploads.MAX_NAME_CHARS and name.endswith(".pdf")


class TestUploadEndpoint:
    def url(self, room):
        return f"/api/rooms/{room.pk}/uploads"

    def test_a_member_uploads_an_image(self, api, room, user, upload_root):
        response = api.post(self.url(room), {"file": upload_file("pic.png", png_bytes())})
        assert response.status_code == 201
        body = response.json()
        attachment = Attachment.objects.get()
        assert body == {
            "id": attachment.pk,
            "name": "pic.png",
            "size": attachment.size,
            "content_type": "image/png",
            "url": f"/files/{attachment.pk}/pic.png",
            "thumb_url": f"/files/{attachment.pk}/thumb/",
            "width": 40,
            "height": 30,
        }
        assert (attachment.uploader, attachment.room, attachment.message) == (user, room, None)
        assert len(stored_files(upload_root)) == 2

    def test_a_file_spooled_to_disk_is_judged_the_same(self, settings, api, room):
        settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 16  # Django writes the upload to a temp file
        response = api.post(self.url(room), {"file": upload_file("doc", docx_bytes())})
        assert response.status_code == 201
        assert response.json()["name"] == "doc.docx"
        html = upload_file("page.pdf", b"<html><body>" + b"x" * 100 + b"</body></html>")
        assert api.post(self.url(room), {"file": html}).status_code == 400

    def test_uploads_are_stored_outside_media(self, settings, api, room, upload_root):
        api.post(self.url(room), {"file": upload_file("pic.png", png_bytes())})
        stored = Attachment.objects.get().file.path
        assert stored.startswith(str(upload_root))
        assert not stored.startswith(str(settings.MEDIA_ROOT))

    def test_a_file_over_the_limit_is_refused_and_nothing_stored(
        self, settings, api, room, upload_root
    ):
        settings.PARLEY_UPLOAD_MAX_BYTES = 100
        response = api.post(self.url(room), {"file": upload_file("a.pdf", pdf_bytes() * 10)})
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "too_large"
        assert not Attachment.objects.exists() and stored_files(upload_root) == []

    def test_a_disguised_html_file_is_refused_and_nothing_stored(self, api, room, upload_root):
        html = b"<!doctype html><html><script>alert(1)</script></html>"
        response = api.post(self.url(room), {"file": upload_file("cat.png", html, "image/png")})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_request"
        assert not Attachment.objects.exists() and stored_files(upload_root) == []

    def test_a_request_without_a_file_is_refused(self, api, room):
        response = api.post(self.url(room), {"other": "x"})
        assert response.status_code == 400
        assert "`file`" in response.json()["error"]["detail"]

    def test_an_empty_file_is_refused(self, api, room):
        response = api.post(self.url(room), {"file": upload_file("a.txt", b"")})
        assert response.status_code == 400

    def test_a_non_member_of_a_private_room_is_told_it_does_not_exist(self, room):
        outsider = client_for(UserFactory())
        response = outsider.post(self.url(room), {"file": upload_file("a.png", png_bytes())})
        assert response.status_code == 404
        assert not Attachment.objects.exists()

    def test_a_non_member_of_a_public_room_may_not_upload(self, other_user, api):
        public = RoomFactory(members=[other_user])
        response = api.post(self.url(public), {"file": upload_file("a.png", png_bytes())})
        assert response.status_code == 403
        assert not Attachment.objects.exists()

    def test_a_failed_row_write_leaves_no_file(self, user, room, upload_root, monkeypatch):
        def fail(**kwargs):
            raise RuntimeError("database gone")

        monkeypatch.setattr(Attachment.objects, "create", fail)
        with pytest.raises(RuntimeError):
            upload(user, room)
        assert stored_files(upload_root) == []


class TestAttaching:
    def test_a_send_carries_its_attachments_and_may_have_no_text(self, user, room):
        attachment = upload(user, room)
        message, created = send_with(user, room, [attachment.pk])
        assert created
        shaped = message_dict(message)
        assert shaped["body"] == ""
        assert [a["id"] for a in shaped["attachments"]] == [attachment.pk]
        attachment.refresh_from_db()
        assert attachment.message_id == message.pk

    def test_a_message_without_text_or_attachments_is_still_refused(self, user, room):
        with pytest.raises(ChatError):
            send_with(user, room, [])

    def test_an_edit_may_take_the_text_away_only_from_a_message_with_files(self, user, room):
        with_file, _ = send_with(user, room, [upload(user, room).pk], body="caption")
        assert services.edit_message(user, with_file.pk, "  ").body == ""
        text_only, _ = send_with(user, room, [], body="words")
        with pytest.raises(ChatError) as refused:
            services.edit_message(user, text_only.pk, "")
        assert refused.value.code == "bad_request"

    def test_attaching_someone_elses_upload_is_refused_and_stores_nothing(
        self, user, other_user, room
    ):
        theirs = upload(other_user, room)
        with pytest.raises(ChatError) as refused:
            send_with(user, room, [theirs.pk], body="mine now")
        assert refused.value.code == "bad_request"
        theirs.refresh_from_db()
        assert theirs.message_id is None
        assert room.messages.count() == 0
        room.refresh_from_db()
        assert room.last_seq == 0

    def test_attaching_an_upload_to_another_room_is_refused(self, user, room):
        elsewhere = RoomFactory(members=[user])
        attachment = upload(user, elsewhere)
        with pytest.raises(ChatError):
            send_with(user, room, [attachment.pk], body="hi")
        attachment.refresh_from_db()
        assert attachment.message_id is None

    def test_an_upload_is_attached_once(self, user, room):
        attachment = upload(user, room)
        send_with(user, room, [attachment.pk])
        with pytest.raises(ChatError):
            send_with(user, room, [attachment.pk])
        assert room.messages.count() == 1

    def test_a_retried_send_returns_the_first_and_attaches_nothing_again(self, user, room):
        attachment = upload(user, room)
        client_msg_id = str(uuid.uuid4())
        first, created = send_with(user, room, [attachment.pk], client_msg_id=client_msg_id)
        again, created_again = send_with(user, room, [attachment.pk], client_msg_id=client_msg_id)
        assert (created, created_again) == (True, False)
        assert again.pk == first.pk
        assert [a["id"] for a in message_dict(again)["attachments"]] == [attachment.pk]
        assert Attachment.objects.filter(message=first).count() == 1

    def test_history_and_search_carry_attachments(self, user, room):
        attachment = upload(user, room)
        send_with(user, room, [attachment.pk], body="holiday picture")
        [listed] = queries.message_page(user, room.pk)["messages"]
        assert [a["id"] for a in listed["attachments"]] == [attachment.pk]
        [found] = search_messages(user, "holiday")["results"]
        assert found["attachments"] == listed["attachments"]

    def test_the_http_send_takes_attachments(self, api, user, room):
        attachment = upload(user, room)
        response = api.post(
            f"/api/rooms/{room.pk}/messages",
            {"body": "", "client_msg_id": str(uuid.uuid4()), "attachments": [attachment.pk]},
            content_type="application/json",
        )
        assert response.status_code == 201
        assert response.json()["attachments"][0]["id"] == attachment.pk

    def test_a_send_costs_the_same_queries_with_one_or_ten_attachments(self, user, room):
        counts = []
        for n in (1, 10):
            ids = [upload(user, room).pk for _ in range(n)]
            with CaptureQueriesContext(connection) as captured:
                send_with(user, room, ids)
            counts.append(len([q for q in captured if "SAVEPOINT" not in q["sql"]]))
        assert counts[0] == counts[1]

    def test_deleting_a_message_removes_its_attachments_and_files_after_commit(
        self, user, room, upload_root, django_capture_on_commit_callbacks
    ):
        attachment = upload(user, room)
        message, _ = send_with(user, room, [attachment.pk])
        with django_capture_on_commit_callbacks(execute=True):
            services.delete_message(user, message.pk)
        assert not Attachment.objects.exists()
        assert stored_files(upload_root) == []

    def test_files_stay_until_the_deletion_commits(
        self, user, room, upload_root, django_capture_on_commit_callbacks
    ):
        attachment = upload(user, room)
        with django_capture_on_commit_callbacks() as callbacks:
            attachment.delete()
            assert len(stored_files(upload_root)) == 2
        assert len(callbacks) == 2


@pytest.mark.django_db(transaction=True)
class TestSocketSend:
    async def test_members_hear_a_message_with_its_attachments(self, user, other_user, room):
        attachment = await sync_to_async(upload)(user, room, name="pic.png")
        async with open_tab(user) as mine, open_tab(other_user) as theirs:
            cid = str(uuid.uuid4())
            frame = {"type": "send", "room": room.pk, "body": "", "client_msg_id": cid}
            ack = await mine.request({**frame, "attachments": [attachment.pk]}, "ack")
            [shaped] = ack["message"]["attachments"]
            assert (shaped["id"], shaped["name"]) == (attachment.pk, "pic.png")
            heard = await theirs.receive_type("message")
            assert heard["message"]["attachments"] == ack["message"]["attachments"]

    async def test_someone_elses_upload_gets_an_error_frame(self, user, other_user, room):
        theirs = await sync_to_async(upload)(other_user, room)
        async with open_tab(user) as tab:
            cid = str(uuid.uuid4())
            frame = {"type": "send", "room": room.pk, "body": "x", "client_msg_id": cid}
            error = await tab.request({**frame, "attachments": [theirs.pk]}, "error")
            assert (error["code"], error["client_msg_id"]) == ("bad_request", cid)


class TestServing:
    def test_a_member_gets_an_image_inline_with_safe_headers(self, user, other_user, room):
        attachment = upload(user, room, name="pic.png")
        send_with(user, room, [attachment.pk])
        response = client_for(other_user).get(f"/files/{attachment.pk}/pic.png")
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Disposition"].startswith("inline")
        assert "sandbox" in response["Content-Security-Policy"]
        assert b"".join(response.streaming_content) == attachment.file.open("rb").read()

    def test_a_thumbnail_is_served_as_webp(self, user, room):
        attachment = upload(user, room)
        response = client_for(user).get(f"/files/{attachment.pk}/thumb/")
        assert (response.status_code, response["Content-Type"]) == (200, "image/webp")

    def test_a_non_image_is_a_download(self, user, room):
        attachment = upload(user, room, name="report.pdf", data=pdf_bytes())
        response = client_for(user).get(f"/files/{attachment.pk}/report.pdf")
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == 'attachment; filename="report.pdf"'
        assert client_for(user).get(f"/files/{attachment.pk}/thumb/").status_code == 404

    def test_a_non_member_gets_404_as_for_a_missing_file(self, user, room):
        attachment = upload(user, room, name="pic.png")
        send_with(user, room, [attachment.pk])
        outsider = client_for(UserFactory())
        assert outsider.get(f"/files/{attachment.pk}/pic.png").status_code == 404
        assert outsider.get(f"/files/{attachment.pk}/thumb/").status_code == 404
        assert outsider.get(f"/files/{attachment.pk + 1000}/pic.png").status_code == 404

    def test_an_anonymous_visitor_gets_404(self, user, room):
        attachment = upload(user, room, name="pic.png")
        send_with(user, room, [attachment.pk])
        assert Client().get(f"/files/{attachment.pk}/pic.png").status_code == 404

    def test_anyone_signed_in_reads_a_public_rooms_files(self, user):
        public = RoomFactory(members=[user])
        attachment = upload(user, public, name="pic.png")
        send_with(user, public, [attachment.pk])
        reader = client_for(UserFactory())
        assert reader.get(f"/files/{attachment.pk}/pic.png").status_code == 200

    def test_an_unsent_upload_is_only_its_uploaders(self, user, other_user, room):
        attachment = upload(user, room, name="pic.png")
        assert client_for(user).get(f"/files/{attachment.pk}/pic.png").status_code == 200
        assert client_for(other_user).get(f"/files/{attachment.pk}/pic.png").status_code == 404

    def test_a_removed_member_loses_access(self, user, other_user, room):
        attachment = upload(user, room, name="pic.png")
        send_with(user, room, [attachment.pk])
        services.remove_member(user, room.pk, other_user.username)
        assert client_for(other_user).get(f"/files/{attachment.pk}/pic.png").status_code == 404

    def test_a_name_outside_ascii_round_trips_through_its_url(self, user, room):
        attachment = upload(user, room, name="résumé 2026.pdf", data=pdf_bytes())
        url = attachment_dict(attachment)["url"]
        assert url == f"/files/{attachment.pk}/r%C3%A9sum%C3%A9%202026.pdf"
        response = client_for(user).get(url)
        assert response.status_code == 200
        assert "filename*=utf-8''r%C3%A9sum%C3%A9%202026.pdf" in response["Content-Disposition"]

    def test_a_wrong_name_in_the_url_is_404(self, user, room):
        attachment = upload(user, room, name="pic.png")
        assert client_for(user).get(f"/files/{attachment.pk}/other.png").status_code == 404


class TestCleanup:
    def test_the_command_deletes_only_old_unsent_uploads_and_their_files(
        self, user, room, upload_root, django_capture_on_commit_callbacks
    ):
        old = upload(user, room)
        fresh = upload(user, room)
        sent = upload(user, room)
        send_with(user, room, [sent.pk])
        Attachment.objects.filter(pk__in=[old.pk, sent.pk]).update(
            created_at=old.created_at - timedelta(days=2)
        )
        out = io.StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("clean_uploads", stdout=out)
        assert set(Attachment.objects.values_list("pk", flat=True)) == {fresh.pk, sent.pk}
        assert "Deleted 1 unsent upload(s)" in out.getvalue()
        assert len(stored_files(upload_root)) == 4

    def test_the_command_deletes_stray_files_no_row_names(self, user, room, upload_root):
        kept = upload(user, room)
        stray = upload_root / str(room.pk) / "stray.png"
        stray.write_bytes(png_bytes())
        day_ago = time.time() - 2 * 86400
        os.utime(stray, (day_ago, day_ago))
        call_command("clean_uploads", stdout=io.StringIO())
        assert not stray.exists()
        assert os.path.exists(kept.file.path)
