"""Uploads: a file stored for a later send, and the clean-up of those never sent."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import limits
from ..access import room_for_poster
from ..content import uploads
from ..errors import ChatError
from ..models import Attachment, upload_storage


def upload_attachment(
    user: AbstractBaseUser, room_id: int, upload: UploadedFile | None
) -> Attachment:
    """Store an upload for a later send into this room (members who may post only).

    Judged by its bytes (chat.content.uploads); images are re-encoded. Nothing is kept
    when it is refused: files written before a failure are deleted again."""
    room, _membership = room_for_poster(user, room_id)
    if upload is None:
        raise ChatError("bad_request", "Send the file as multipart form data in the field `file`.")
    limit = settings.PARLEY_UPLOAD_MAX_BYTES
    if upload.size > limit:
        raise ChatError("too_large", _("Files are limited to %(limit)s bytes.") % {"limit": limit})
    if upload.size == 0:
        raise ChatError("bad_request", _("The file is empty."))
    limits.spend("upload", user.pk)
    processed = uploads.process(upload)
    storage = upload_storage()
    stem = f"{room.pk}/{uuid.uuid4().hex}"
    stored: list[str] = []
    try:
        stored.append(storage.save(stem + processed.extension, ContentFile(processed.data)))
        if processed.thumbnail is not None:
            stored.append(storage.save(f"{stem}-thumb.webp", ContentFile(processed.thumbnail)))
        return Attachment.objects.create(
            uploader=user,
            room=room,
            file=stored[0],
            thumbnail=stored[1] if len(stored) > 1 else "",
            name=processed.name,
            content_type=processed.content_type,
            size=len(processed.data),
            width=processed.width,
            height=processed.height,
        )
    except BaseException:
        for name in stored:
            storage.delete(name)
        raise


def clean_stale_uploads(older_than: timedelta) -> tuple[int, int]:
    """Delete uploads never sent within `older_than`, and stored files no row names
    (left by a crash between writing a file and its row); (rows, stray files)."""
    cutoff = timezone.now() - older_than
    deleted = Attachment.objects.filter(message__isnull=True, created_at__lt=cutoff).delete()[0]
    storage = upload_storage()
    strays = 0
    folders = storage.listdir("")[0] if storage.exists("") else []
    for folder in folders:  # one per room, named by its id
        named = Attachment.objects.filter(room_id=int(folder) if folder.isdigit() else None)
        known = {name for pair in named.values_list("file", "thumbnail") for name in pair}
        for name in storage.listdir(folder)[1]:
            path = f"{folder}/{name}"
            if path not in known and storage.get_modified_time(path) < cutoff:
                storage.delete(path)
                strays += 1
    return deleted, strays


def claim_attachments(
    user: AbstractBaseUser, room_id: int, message_id: int, ids: tuple[int, ...]
) -> list[Attachment]:
    """Attach the sender's own unsent uploads to this room to the new message, inside
    the send's transaction: one that is not (someone else's, another room's, already
    sent) fails the whole send. The UPDATE's condition decides, so two sends racing
    for one upload cannot both have it."""
    claimed = Attachment.objects.filter(
        pk__in=ids, uploader_id=user.pk, room_id=room_id, message__isnull=True
    ).update(message_id=message_id)
    if claimed != len(ids):
        raise ChatError(
            "bad_request", _("Attach only your own uploads to this room that are not yet sent.")
        )
    return list(Attachment.objects.filter(message_id=message_id).order_by("pk"))
