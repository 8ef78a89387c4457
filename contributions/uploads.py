"""Images and PDFs sent by partners, checked by their content (never by name, extension or
Content-Type), then made safe to store and to show.

Images (JPEG, PNG, WebP, at most 5 Mo) are decoded by Pillow, refused when their dimensions make
a decompression bomb, and re-encoded from their pixels alone: EXIF (GPS position, camera serial…),
ICC profiles, XMP and comments are gone. Two copies are kept: one for the web (at most 1200 px on
its longest side) and one for the letter (600 px wide). PDFs (at most 10 Mo) are recognised by their
magic bytes `%PDF-` and stored as sent. Every refusal says why in French (`UploadError`).
"""
from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_PDF_BYTES = 10 * 1024 * 1024
# Above this many pixels, decoding would take hundreds of Mo of memory: a decompression bomb, or
# a photo far larger than any page needs. Pillow's own guard (Image.MAX_IMAGE_PIXELS) is checked
# too, and its warning is turned into a refusal.
MAX_PIXELS = 40_000_000
# A JPEG is decoded at a reduced scale (Pillow's `draft`: 1/2, 1/4 or 1/8 while decoding); PNG and
# WebP are decoded whole, so their decoded size (pixels × channels) is bounded before decoding.
MAX_DECODED_BYTES = 100 * 1024 * 1024
WEB_MAX_SIDE = 1200
EMAIL_WIDTH = 600
MAX_FILES_PER_CONTRIBUTION = 10

IMAGE_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}


class UploadError(ValueError):
    """The file is refused; the message says why, in French, for the partner. `field` names the
    form field the message belongs to ("upload" or "upload_alt")."""

    def __init__(self, message: str, field: str = "upload"):
        super().__init__(message)
        self.field = field


@dataclass
class ProcessedFile:
    """A checked file, ready to become a `ContributionFile` (see contributions.services)."""

    kind: str  # image, pdf
    filename: str
    content_type: str
    data: bytes
    email_data: bytes | None = None
    width: int | None = None
    height: int | None = None
    alt_text: str | None = None
    title: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".replace(".", ",").replace(",0", "") + " Mo"


def safe_filename(name: str | None, extension: str) -> str:
    """A plain ASCII file name with the extension of the real content (the sent name may lie)."""
    stem = (name or "").replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-_")[:80] or "fichier"
    return f"{stem}.{extension}"


def is_pdf(raw: bytes) -> bool:
    return raw.startswith(b"%PDF-")


def process_upload(raw: bytes, filename: str | None, alt_text: str | None = None,
                   title: str | None = None) -> ProcessedFile:
    """Check one sent file and return it ready to store, or raise UploadError."""
    if not raw:
        raise UploadError("Le fichier envoyé est vide.")
    if is_pdf(raw):
        return process_pdf(raw, filename, title)
    return process_image(raw, filename, alt_text)


def process_pdf(raw: bytes, filename: str | None, title: str | None = None) -> ProcessedFile:
    if len(raw) > MAX_PDF_BYTES:
        raise UploadError(f"Ce PDF pèse {megabytes(len(raw))} : la limite est de "
                          f"{megabytes(MAX_PDF_BYTES)}. Réduisez-le (export « taille réduite ») ou "
                          f"donnez plutôt un lien vers le document.")
    if not is_pdf(raw):
        raise UploadError("Ce fichier n'est pas un PDF valide.")
    name = safe_filename(filename, "pdf")
    clean_title = (title or "").strip()[:300] or None
    return ProcessedFile(kind="pdf", filename=name, content_type="application/pdf", data=raw,
                         title=clean_title)


def _open(raw: bytes) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(raw))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UploadError("Cette image est beaucoup trop grande (en pixels) pour être traitée. "
                              "Envoyez une image de moins de 40 millions de pixels.") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise UploadError("Ce fichier n'est ni une image JPEG, PNG ou WebP, ni un PDF : "
                              "il ne peut pas être joint.") from None
    return image


def process_image(raw: bytes, filename: str | None, alt_text: str | None) -> ProcessedFile:
    if len(raw) > MAX_IMAGE_BYTES:
        raise UploadError(f"Cette image pèse {megabytes(len(raw))} : la limite est de "
                          f"{megabytes(MAX_IMAGE_BYTES)}. Réduisez-la avant de l'envoyer.")
    image = _open(raw)
    if image.format not in IMAGE_FORMATS:
        raise UploadError(f"Les images au format {image.format or 'inconnu'} ne sont pas acceptées : "
                          "envoyez une image JPEG, PNG ou WebP.")
    width, height = image.size
    if width * height > MAX_PIXELS or width * height > (Image.MAX_IMAGE_PIXELS or MAX_PIXELS):
        raise UploadError(f"Cette image mesure {width} × {height} pixels : c'est trop grand pour être "
                          "traité. Envoyez une image de moins de 40 millions de pixels.")
    if width < 1 or height < 1:
        raise UploadError("Cette image est vide.")
    # The copies kept are at most WEB_MAX_SIDE on the longest side and EMAIL_WIDTH wide: one reduced
    # image big enough for both is all that is ever decoded and worked on.
    scale = min(1.0, max(WEB_MAX_SIDE / max(width, height), EMAIL_WIDTH / width))
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    try:
        image.verify()  # structure and checksums, without decoding the pixels
        image = _open(raw)
        if image.format == "JPEG":
            image.draft(None, target)  # decoded at 1/2, 1/4 or 1/8 when that is still large enough
        decoded = image.size[0] * image.size[1] * len(image.getbands()) * (2 if ";16" in image.mode else 1)
        if decoded > MAX_DECODED_BYTES:
            raise UploadError(f"Cette image mesure {width} × {height} pixels : c'est trop grand pour être "
                              "traité dans ce format. Envoyez-la en JPEG, ou réduisez-la à moins de "
                              "25 millions de pixels.")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
        if image.size != target:
            image.thumbnail(target, Image.Resampling.LANCZOS, reducing_gap=None)  # in place: frees the full one
    except UploadError:
        raise
    except Exception:  # noqa: BLE001  Pillow raises many kinds of errors on a damaged file
        raise UploadError("Cette image est endommagée ou incomplète : elle ne peut pas être lue. "
                          "Réenregistrez-la puis envoyez-la de nouveau.") from None
    alt = " ".join((alt_text or "").split())[:500]
    if not alt:
        raise UploadError("Décrivez l'image en quelques mots (texte alternatif) : il est lu aux "
                          "personnes aveugles et s'affiche quand l'image ne se charge pas.",
                          field="upload_alt")
    source_format = image.format
    assert source_format is not None  # one of IMAGE_FORMATS, checked above
    clean = _pixels_only(image)
    web = _fit(clean, WEB_MAX_SIDE)
    content_type, extension = IMAGE_FORMATS[source_format]
    data = _encode(web, source_format)
    email = clean if clean.width <= EMAIL_WIDTH else clean.resize(
        (EMAIL_WIDTH, max(1, round(clean.height * EMAIL_WIDTH / clean.width))), Image.Resampling.LANCZOS)
    # E-mail clients read JPEG and PNG everywhere, WebP not (Outlook): PNG keeps transparency.
    email_data = _encode(email, "PNG" if email.mode == "RGBA" else "JPEG")
    return ProcessedFile(kind="image", filename=safe_filename(filename, extension),
                         content_type=content_type, data=data, email_data=email_data,
                         width=web.width, height=web.height, alt_text=alt)


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new image holding the pixels and nothing else (no EXIF, ICC, XMP, text chunks), turned
    upright first when the camera recorded an orientation."""
    image = ImageOps.exif_transpose(image) or image
    transparent = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    image = image.convert("RGBA" if transparent else "RGB")
    return Image.frombytes(image.mode, image.size, image.tobytes())


def _fit(image: Image.Image, max_side: int) -> Image.Image:
    if max(image.size) <= max_side:
        return image
    copy = image.copy()
    copy.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return copy


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=85, optimize=True, progressive=True)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=85, method=4)
    else:
        image.save(out, "PNG", optimize=True)
    return out.getvalue()


def sniff_image_type(data: bytes) -> str:
    """The Content-Type of stored image bytes, from their signature."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


# --- Pending files: chosen in a form that did not save (preview, an error), kept for its next POST ----

PENDING_DIR = "pending_uploads"
PENDING_MAX_AGE = 24 * 3600  # seconds; older pending files are removed when another is kept
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")


def _pending_dir(owner_id: int):
    from core.settings import get_settings
    return get_settings().data_dir / PENDING_DIR / str(int(owner_id))


def keep_pending(raw: bytes, filename: str | None, owner_id: int) -> str:
    """Keep a sent file (as sent: it is checked again when used) for its owner's next POST of the
    form; returns the token the form carries. Nothing of it is ever served as sent."""
    import json
    import secrets
    import time
    directory = _pending_dir(owner_id)
    directory.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in directory.iterdir():
        if now - old.stat().st_mtime > PENDING_MAX_AGE:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(24)
    (directory / f"{token}.json").write_text(json.dumps({"filename": filename or ""}))
    (directory / token).write_bytes(raw)
    return token


def pending(token: str | None, owner_id: int) -> tuple[bytes, str] | None:
    """The file kept under `token` for `owner_id` (raw bytes, sent name), or None."""
    import json
    if not token or not _TOKEN.fullmatch(token):
        return None
    directory = _pending_dir(owner_id)
    try:
        meta = json.loads((directory / f"{token}.json").read_text())
        return (directory / token).read_bytes(), meta.get("filename") or ""
    except (OSError, ValueError):
        return None


def drop_pending(token: str | None, owner_id: int) -> None:
    if token and _TOKEN.fullmatch(token):
        directory = _pending_dir(owner_id)
        (directory / token).unlink(missing_ok=True)
        (directory / f"{token}.json").unlink(missing_ok=True)
