"""What an upload is, judged by its bytes, and the files Parley stores for it.

The type comes from the content, never from the name or the client's header:
Pillow for images, puremagic (pure Python, so no system libmagic to install)
for everything else, with its deep scan telling a .docx from a macro-enabled
.docm or a plain zip. Only an allow-list is accepted. Images are decoded and
re-encoded, so EXIF, GPS, ICC profiles, comments and any bytes hidden after
the picture are gone, orientation is applied, and a thumbnail is made.
"""

import os
import tempfile
import threading
import unicodedata
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import PurePath

import puremagic
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from ..errors import ChatError

# Image format (Pillow's name) -> content type of the re-encoded image.
IMAGE_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
# Detected content type -> the extensions a name of that type may end in (first: added
# when the name has none of them, so a saved file opens in the right program).
FILE_TYPES = {
    "application/pdf": (".pdf",),
    "text/plain": (".txt", ".text", ".log", ".md", ".csv", ".json"),
    "application/zip": (".zip",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (".pptx",),
    "application/vnd.oasis.opendocument.text": (".odt",),
    "application/vnd.oasis.opendocument.spreadsheet": (".ods",),
    "application/vnd.oasis.opendocument.presentation": (".odp",),
}
IMAGE_EXTENSIONS = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
}
# The accepted types that are zip archives inside.
ZIP_TYPES = {"application/zip", *(kind for kind in FILE_TYPES if ".openxmlformats-" in kind)}
ZIP_TYPES |= {kind for kind in FILE_TYPES if ".oasis.opendocument." in kind}
# Plain-text kinds puremagic tells apart; all are stored and served as text/plain.
TEXT_TYPES = {"text/plain", "text/csv", "application/json", "text/x-python", "text/markdown"}

# Decoded, a pixel costs 3–4 bytes of memory: these bound what one upload may take,
# judged from the header before decoding (a decompression bomb never decodes).
MAX_PIXELS = 4096 * 4096  # one decoded frame: about 64 MiB as RGBA
# A JPEG larger than that decodes at 1/2, 1/4 or 1/8 of its size (libjpeg scales while
# decoding), so a 48-megapixel phone photo is stored at 4000×3000.
MAX_JPEG_PIXELS = 64 * MAX_PIXELS
MAX_FRAMES = 200
MAX_ANIMATION_PIXELS = 24_000_000  # all frames together
# One image decoded at a time in a process: peak memory does not grow with concurrency.
_decoding = threading.Lock()
THUMB_SIZE = (320, 320)
MAX_NAME_CHARS = 160
JPEG_QUALITY = 85


@dataclass(frozen=True)
class Processed:
    """The bytes to store for an upload, and what the attachment row records."""

    data: bytes
    content_type: str
    name: str
    extension: str
    thumbnail: bytes | None = None
    width: int | None = None
    height: int | None = None


def clean_name(name: str | None) -> str:
    """A display and download name: the last path part, no control characters,
    no leading dots, at most MAX_NAME_CHARS (the extension kept)."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = " ".join(name.split()).lstrip(". ")
    if len(name) > MAX_NAME_CHARS:
        suffix = PurePath(name).suffix[:16]
        name = name[: MAX_NAME_CHARS - len(suffix)] + suffix
    return name or "file"


def _named_for(name: str, extensions: tuple[str, ...]) -> str:
    if PurePath(name).suffix.lower() in extensions:
        return name
    return clean_name(name[: MAX_NAME_CHARS - len(extensions[0])] + extensions[0])


def _detect(upload: UploadedFile) -> str | None:
    """The content type puremagic finds, deep scan included (it needs a file on disk)."""
    path = getattr(upload, "temporary_file_path", None)
    if path is not None:
        return _magic(path())
    upload.seek(0)
    with tempfile.NamedTemporaryFile(suffix=".upload") as spool:
        for chunk in upload.chunks():
            spool.write(chunk)
        spool.flush()
        return _magic(spool.name)


def _magic(path: str) -> str | None:
    if os.path.getsize(path) == 0:
        return None
    try:
        detected = puremagic.from_file(path, mime=True)
    except (puremagic.PureError, ValueError):
        return None
    # For bytes that merely start like a zip, puremagic falls back to a guess from the
    # header: a zip-based type must also open as a zip (its deep scan then decided).
    if detected in ZIP_TYPES and not zipfile.is_zipfile(path):
        return None
    return detected


def _still(image: Image.Image) -> Image.Image:
    """The one frame, upright, with none of the original's metadata, in as few copies
    of its pixels as Pillow allows (each is up to MAX_PIXELS × 4 bytes)."""
    image.load()
    ImageOps.exif_transpose(image, in_place=True)
    mode = "RGBA" if image.has_transparency_data else "RGB"
    if image.mode != mode:
        image = image.convert(mode)
    image.info = {}
    return image


def _frames(image: Image.Image) -> list[Image.Image]:
    """Every frame, upright, as new images that carry none of the original's metadata."""
    if getattr(image, "n_frames", 1) == 1:
        return [_still(image)]
    frames = []
    for frame in ImageSequence.Iterator(image):
        upright = ImageOps.exif_transpose(frame.copy())
        mode = "RGBA" if upright.has_transparency_data else "RGB"
        clean = upright.convert(mode)
        duration = frame.info.get("duration")
        clean.info = {}
        if duration is not None:
            clean.info["duration"] = duration
        frames.append(clean)
    return frames


@contextmanager
def bounded_image(upload: UploadedFile) -> Iterator[Image.Image]:
    """The upload opened for decoding in bounded memory: at most MAX_PIXELS decoded (a
    larger JPEG reduced while decoding), one image decoded at a time in the process.
    Raises ChatError `too_large` for more pixels (from the header, before decoding);
    errors of unreadable bytes (OSError and the like) are the caller's to judge."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            upload.seek(0)
            with _decoding, Image.open(upload) as image:
                if (
                    image.format == "JPEG"
                    and MAX_PIXELS < image.width * image.height <= MAX_JPEG_PIXELS
                ):
                    _reduce_while_decoding(image)
                if image.width * image.height > MAX_PIXELS:
                    raise ChatError("too_large", _("The image has too many pixels."))
                yield image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ChatError("too_large", _("The image has too many pixels.")) from exc


def _reencode(upload: UploadedFile, name: str) -> Processed:
    """Decode the image and write it anew (same format), with a WebP thumbnail."""
    try:
        with bounded_image(upload) as image:
            kind = image.format
            frame_count = getattr(image, "n_frames", 1)
            if image.width * image.height * frame_count > MAX_ANIMATION_PIXELS:
                raise ChatError("too_large", _("The image has too many pixels."))
            if frame_count > MAX_FRAMES:
                raise ChatError(
                    "too_large",
                    _("An animation may have at most %(limit)s frames.") % {"limit": MAX_FRAMES},
                )
            loop = image.info.get("loop", 0)
            frames = _frames(image)
        data, thumbnail = _encode(kind, frames, loop)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ChatError("bad_request", _("The image could not be read.")) from exc
    content_type = IMAGE_TYPES[kind]
    return Processed(
        data=data,
        content_type=content_type,
        name=_named_for(name, IMAGE_EXTENSIONS[content_type]),
        extension=IMAGE_EXTENSIONS[content_type][0],
        thumbnail=thumbnail,
        width=frames[0].width,
        height=frames[0].height,
    )


def _reduce_while_decoding(image: Image.Image) -> None:
    """Have libjpeg decode at the largest of 1/2, 1/4, 1/8 that fits MAX_PIXELS."""
    for scale in (2, 4, 8):
        if image.width * image.height <= MAX_PIXELS * scale * scale:
            break
    image.draft("RGB", (-(-image.width // scale), -(-image.height // scale)))


def _encode(kind: str, frames: list[Image.Image], loop: int) -> tuple[bytes, bytes]:
    """The image in its own format (every frame of an animation) and a still thumbnail."""
    first = frames[0]
    if kind == "JPEG" and first.mode != "RGB":
        first = first.convert("RGB")
    options: dict = {"format": kind}
    if len(frames) > 1:
        options |= {"save_all": True, "append_images": frames[1:], "loop": loop}
    if kind == "JPEG":
        options |= {"quality": JPEG_QUALITY, "optimize": True}
    elif kind == "WEBP":
        options |= {"quality": JPEG_QUALITY}
    out = BytesIO()
    first.save(out, **options)
    thumb = first.resize(_thumbnail_size(first.size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    thumb_out = BytesIO()
    thumb.save(thumb_out, format="WEBP", quality=80)
    return out.getvalue(), thumb_out.getvalue()


def _thumbnail_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size of a thumbnail within THUMB_SIZE, made without copying the full image."""
    scale = min(1.0, THUMB_SIZE[0] / size[0], THUMB_SIZE[1] / size[1])
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _image_format(upload: UploadedFile) -> str | None:
    """The format Pillow recognises in the bytes (without decoding pixels), if any."""
    upload.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(upload, formats=list(IMAGE_TYPES)) as probe:
                return probe.format
    except Image.DecompressionBombError as exc:
        raise ChatError("too_large", _("The image has too many pixels.")) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None


def process(upload: UploadedFile) -> Processed:
    """Judge an upload by its bytes: an image re-encoded, an allowed file as it is,
    anything else refused with ChatError."""
    name = clean_name(upload.name)
    if _image_format(upload) is not None:
        return _reencode(upload, name)
    detected = _detect(upload)
    if detected in TEXT_TYPES:
        detected = "text/plain"
    if detected not in FILE_TYPES:
        raise ChatError(
            "bad_request",
            _(
                "This kind of file is not accepted: send images (PNG, JPEG, GIF, WebP), PDF, "
                "plain text, zip or office documents."
            ),
        )
    upload.seek(0)
    return Processed(
        data=upload.read(),
        content_type=detected,
        name=_named_for(name, FILE_TYPES[detected]),
        extension=FILE_TYPES[detected][0],
    )
