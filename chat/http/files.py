"""Attachments: served only to readers of their room, never as a page."""

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_safe

from ..access import attachment_for_reader
from ..errors import ChatError
from ..models import Attachment

# A stored file is never a page: no script, no plugin, no form, even if opened directly.
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def _readable_attachment(request: HttpRequest, attachment_id: int) -> Attachment:
    """404 for anyone who may not fetch it (not 403, so ids cannot be probed)."""
    try:
        return attachment_for_reader(request.user, attachment_id)
    except ChatError:
        raise Http404 from None


def _file_response(
    stored: FieldFile, content_type: str, *, inline: bool, name: str
) -> FileResponse:
    try:
        handle = stored.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(
        handle, content_type=content_type, as_attachment=not inline, filename=name
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, max-age=86400"
    response["Vary"] = "Cookie"
    return response


@require_safe
def attachment_file(request: HttpRequest, attachment_id: int, name: str) -> FileResponse:
    """The stored file: images (re-encoded) inline, anything else as a download."""
    attachment = _readable_attachment(request, attachment_id)
    if name != attachment.name:
        raise Http404
    return _file_response(
        attachment.file,
        attachment.content_type,
        inline=attachment.is_image,
        name=attachment.name,
    )


@require_safe
def attachment_thumb(request: HttpRequest, attachment_id: int) -> FileResponse:
    attachment = _readable_attachment(request, attachment_id)
    if not attachment.is_image:
        raise Http404
    return _file_response(
        attachment.thumbnail, "image/webp", inline=True, name=f"thumb-{attachment.pk}.webp"
    )
