import io
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from PIL import Image

from tests.factories import PASSWORD, UserFactory
from tests.support import peak_memory_of

User = get_user_model()
NEW_PASSWORD = "a-much-longer-passphrase-42"


def png_bytes(size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def upload(name: str, content: bytes, content_type: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.mark.django_db
class TestRegister:
    def test_register_creates_user_logs_in_and_redirects_home(self, client):
        response = client.post(
            reverse("register"),
            {"username": "carol", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
        assert response.status_code == 302
        assert response.url == reverse("home")
        assert User.objects.filter(username="carol").exists()
        assert client.get(reverse("home")).context["user"].username == "carol"

    def test_register_with_mismatched_passwords_shows_error_and_creates_nothing(self, client):
        response = client.post(
            reverse("register"),
            {"username": "carol", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"},
        )
        assert response.status_code == 200
        assert "password2" in response.context["form"].errors
        assert not User.objects.filter(username="carol").exists()

    def test_register_with_duplicate_username_shows_error(self, client):
        UserFactory(username="carol")
        response = client.post(
            reverse("register"),
            {"username": "Carol", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
        assert response.status_code == 200
        assert "username" in response.context["form"].errors
        assert User.objects.filter(username__iexact="carol").count() == 1

    def test_register_page_redirects_a_logged_in_user_home(self, client, user):
        client.force_login(user)
        assert client.get(reverse("register")).url == reverse("home")


@pytest.mark.django_db
class TestLoginLogout:
    def test_anonymous_home_redirects_to_login(self, client):
        response = client.get(reverse("home"))
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))

    def test_login_with_right_password_reaches_home(self, client, user):
        response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
        assert response.status_code == 302
        # Through the last room this browser showed (tests/chat/http/test_pages.py): none.
        assert client.get(response.url).url == reverse("home")
        assert client.get(reverse("home")).status_code == 200

    def test_login_with_wrong_password_shows_error(self, client, user):
        response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
        assert response.status_code == 200
        assert response.context["form"].non_field_errors()
        assert client.get(reverse("home")).status_code == 302

    def test_logout_by_post_ends_the_session(self, client, user):
        client.force_login(user)
        response = client.post(reverse("logout"))
        assert response.status_code == 302
        assert client.get(reverse("home")).status_code == 302

    def test_logout_by_get_is_refused(self, client, user):
        client.force_login(user)
        assert client.get(reverse("logout")).status_code == 405
        assert client.get(reverse("home")).status_code == 200


@pytest.mark.django_db
class TestProfile:
    def test_profile_requires_login(self, client):
        assert client.get(reverse("profile")).status_code == 302

    def test_profile_updates_name_bio_and_avatar(self, client, user, settings, tmp_path):
        settings.MEDIA_ROOT = tmp_path
        client.force_login(user)
        response = client.post(
            reverse("profile"),
            {
                "display_name": "Alice A.",
                "bio": "Hello there",
                "avatar": upload("me.jpg", png_bytes((800, 600)), "image/jpeg"),
            },
        )
        assert response.status_code == 302
        user.refresh_from_db()
        assert (user.display_name, user.bio) == ("Alice A.", "Hello there")
        with Image.open(user.avatar.path) as stored:
            assert stored.format == "PNG"
            assert max(stored.size) == 256

    def test_replacing_the_avatar_deletes_the_old_file(
        self, client, user, settings, tmp_path, django_capture_on_commit_callbacks
    ):
        settings.MEDIA_ROOT = tmp_path
        client.force_login(user)
        data = {"display_name": "A", "bio": ""}
        client.post(
            reverse("profile"), {**data, "avatar": upload("a.png", png_bytes(), "image/png")}
        )
        user.refresh_from_db()
        first = user.avatar.path
        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                reverse("profile"), {**data, "avatar": upload("b.png", png_bytes(), "image/png")}
            )
        user.refresh_from_db()
        assert user.avatar.path != first
        assert Path(user.avatar.path).exists()
        assert not Path(first).exists()

    @pytest.mark.parametrize(
        ("name", "content", "content_type", "code"),
        [
            ("notes.png", b"this is not an image at all", "image/png", "invalid_image"),
            ("doc.pdf", b"%PDF-1.4 fake", "application/pdf", "invalid_image"),
        ],
    )
    def test_profile_rejects_a_file_that_is_not_an_image(
        self, client, user, settings, tmp_path, name, content, content_type, code
    ):
        settings.MEDIA_ROOT = tmp_path
        client.force_login(user)
        response = client.post(
            reverse("profile"),
            {"display_name": "Changed", "bio": "", "avatar": upload(name, content, content_type)},
        )
        assert response.status_code == 200
        assert response.context["form"].errors.as_data()["avatar"][0].code == code
        user.refresh_from_db()
        assert user.display_name == "Alice"
        assert not user.avatar
        assert not any(tmp_path.rglob("*"))

    def test_profile_rejects_a_too_large_avatar(self, client, user, settings, tmp_path):
        settings.MEDIA_ROOT = tmp_path
        settings.AVATAR_MAX_BYTES = 1024
        client.force_login(user)
        response = client.post(
            reverse("profile"),
            {
                "display_name": "Changed",
                "bio": "",
                "avatar": upload("big.png", png_bytes((400, 400)) + b"\0" * 2048, "image/png"),
            },
        )
        assert response.status_code == 200
        assert response.context["form"].errors.as_data()["avatar"][0].code == "too_large"
        assert response.context["user"].display_name == "Alice"  # the nav bar shows what is saved
        user.refresh_from_db()
        assert user.display_name == "Alice"
        assert not user.avatar

    def test_password_change_requires_the_old_password(self, client, user):
        client.force_login(user)
        url = reverse("password_change")
        bad = client.post(
            url,
            {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )
        assert bad.status_code == 200
        good = client.post(
            url,
            {
                "old_password": PASSWORD,
                "new_password1": NEW_PASSWORD,
                "new_password2": NEW_PASSWORD,
            },
        )
        assert good.status_code == 302
        user.refresh_from_db()
        assert user.check_password(NEW_PASSWORD)


AVATAR_IMPORTS = """
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from accounts.forms import normalized_avatar
"""
JUDGE_AVATAR = """
try:
    with Image.open(normalized_avatar(SimpleUploadedFile("avatar", data))) as avatar:
        result = f"{avatar.width}x{avatar.height}"
except forms.ValidationError as error:
    result = error.code
"""


@pytest.mark.parametrize(
    ("size", "kind", "stored"),
    [
        ((6324, 6324), "PNG", None),  # 40 MP: refused from its header
        ((4096, 4096), "PNG", (256, 256)),  # the largest image decoded in full
        ((8000, 6000), "JPEG", (256, 192)),  # a phone photo, decoded reduced
    ],
)
def test_an_avatar_decodes_in_bounded_memory(tmp_path, size, kind, stored):
    """Peak memory a process gains judging one avatar (was ~440 MB for a 7000×5500 JPEG)."""
    path = tmp_path / f"avatar.{kind.lower()}"
    Image.new("RGB", size, (10, 200, 30)).save(path, format=kind)
    grown_mib, result = peak_memory_of(AVATAR_IMPORTS, JUDGE_AVATAR, path)
    assert result == (f"{stored[0]}x{stored[1]}" if stored else "too_large")
    assert grown_mib < 120
