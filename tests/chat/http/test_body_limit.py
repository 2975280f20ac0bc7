"""A request's body is judged before it is read, on every path (chat/http/middleware.py)."""

import pytest

from chat.models import Attachment
from config.asgi import application
from tests.support import asgi_request

pytestmark = pytest.mark.django_db(transaction=True)

MIB = 1024 * 1024


@pytest.mark.parametrize("path", ["/healthz", "/accounts/login/", "/api/rooms/", "/admin/"])
async def test_a_body_declared_too_large_is_refused_unread_anywhere(path):
    answer = await asgi_request(
        application,
        path,
        headers=[(b"content-length", str(400 * MIB).encode())],
        chunks=[b"x" * MIB] * 400,
    )
    assert (answer.status, answer.read) == (413, 0)


async def test_a_chunked_upload_is_cut_off_at_the_limit(settings):
    settings.PARLEY_UPLOAD_MAX_BYTES = MIB
    answer = await asgi_request(
        application,
        "/api/rooms/1/uploads",
        headers=[(b"content-type", b"multipart/form-data; boundary=x")],
        chunks=[b"x" * (256 * 1024)] * 400,  # 100 MiB, no declared length
    )
    assert answer.status == 413
    assert answer.json()["error"]["code"] == "too_large"
    assert answer.read <= MIB + 64 * 1024 + 256 * 1024
    assert not await Attachment.objects.aexists()


async def test_a_chunked_body_elsewhere_is_cut_off_at_the_small_limit(settings):
    answer = await asgi_request(application, "/healthz", chunks=[b"x" * MIB] * 100)
    assert answer.status == 413
    assert answer.read <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE + MIB


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ((b"accept-language", b"de"), "Dateien dürfen höchstens 1000 Bytes groß sein."),
        ((b"cookie", b"django_language=de"), "Dateien dürfen höchstens 1000 Bytes groß sein."),
        ((b"accept-language", b"en"), "Files are limited to 1000 bytes."),
    ],
)
async def test_the_refusal_is_in_the_callers_language(settings, header, detail):
    """Chosen as the locale middleware (which has not run) would: cookie, then header."""
    settings.PARLEY_UPLOAD_MAX_BYTES = 1000
    answer = await asgi_request(
        application, "/api/rooms/1/uploads", headers=[(b"content-length", b"200000"), header]
    )
    assert answer.status == 413
    assert answer.json()["error"]["detail"] == detail


async def test_a_body_within_its_limit_reaches_the_application():
    answer = await asgi_request(application, "/healthz", method="GET")
    assert (answer.status, answer.body) == (200, b"ok")
