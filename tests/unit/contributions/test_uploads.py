"""Images and PDFs from partners, checked by content and re-encoded without metadata, resized
(contributions/uploads.py). Storing them with the contribution and serving them:
tests/integration/contributions/test_uploads.py."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import ExifTags, Image

from contributions import uploads
from tests.support.images import image_bytes, pdf_bytes

# --- Checking and re-encoding ---------------------------------------------------------------------

def png_header_only(width: int, height: int) -> bytes:
    """A PNG that announces huge dimensions but carries almost no data: a decompression bomb's shape."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_gps_and_every_exif_field_are_gone_and_copies_are_resized():
    raw = image_bytes()
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(ExifTags.Base.GPSInfo), "the input must carry GPS"
    processed = uploads.process_image(raw, "photo de la sortie.JPG", "Des enfants au parc")
    web = Image.open(io.BytesIO(processed.data))
    assert web.format == "JPEG" and processed.content_type == "image/jpeg"
    assert dict(web.getexif()) == {} and not web.getexif().get_ifd(ExifTags.Base.GPSInfo)
    assert b"Exif" not in processed.data and b"Appareil espion" not in processed.data
    assert "exif" not in web.info and "icc_profile" not in web.info
    assert max(web.size) == 1200 and (processed.width, processed.height) == web.size == (1200, 800)
    email = Image.open(io.BytesIO(processed.email_data))
    assert email.size == (600, 400) and email.format == "JPEG" and b"Exif" not in processed.email_data
    assert processed.filename == "photo-de-la-sortie.jpg" and processed.alt_text == "Des enfants au parc"


def test_camera_orientation_is_applied_before_the_metadata_is_dropped():
    image = Image.new("RGB", (300, 100), "blue")
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # the camera was turned: show it rotated
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    processed = uploads.process_image(out.getvalue(), "x.jpg", "Portrait")
    assert (processed.width, processed.height) == (100, 300)


def test_png_keeps_transparency_and_loses_its_text_chunks():
    from PIL.PngImagePlugin import PngInfo
    info = PngInfo()
    info.add_text("Comment", "adresse du domicile : 3 rue des Lilas")
    raw = image_bytes("PNG", size=(800, 400), mode="RGBA", color=(0, 0, 0, 0), exif=False, pnginfo=info)
    processed = uploads.process_image(raw, "logo.png", "Logo du centre social")
    assert b"rue des Lilas" not in processed.data and b"tEXt" not in processed.data
    web = Image.open(io.BytesIO(processed.data))
    assert web.format == "PNG" and web.mode == "RGBA" and web.size == (800, 400)
    email = Image.open(io.BytesIO(processed.email_data))
    assert email.format == "PNG" and email.size == (600, 300)
    assert uploads.sniff_image_type(processed.email_data) == "image/png"


def test_webp_is_accepted_and_the_email_copy_is_jpeg():
    processed = uploads.process_image(image_bytes("WEBP", size=(500, 300)), "a.webp", "Affiche")
    assert processed.content_type == "image/webp" and Image.open(io.BytesIO(processed.data)).format == "WEBP"
    assert Image.open(io.BytesIO(processed.email_data)).format == "JPEG"
    assert (processed.width, processed.height) == (500, 300)  # never enlarged


@pytest.mark.parametrize("raw, name, message", [
    (b"<html><script>alert(1)</script></html>", "photo.jpg", "ni une image JPEG, PNG ou WebP, ni un PDF"),
    (b"MZ\x90\x00" + b"\x00" * 200, "rapport.pdf", "ni une image JPEG, PNG ou WebP, ni un PDF"),
    (image_bytes("GIF", size=(20, 20), mode="P", exif=False), "anim.png", "format GIF ne sont pas acceptées"),
    (image_bytes("BMP", size=(20, 20), exif=False), "image.jpg", "format BMP ne sont pas acceptées"),
    (image_bytes("JPEG", size=(400, 300), exif=False)[:-400], "coupee.jpg", "endommagée ou incomplète"),
    (image_bytes("PNG", size=(400, 300), exif=False)[:-30], "coupee.png", "endommagée ou incomplète"),
    (b"", "vide.png", "vide"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024), "lourde.png", "limite est de 5 Mo"),
    (png_header_only(50_000, 50_000), "bombe.png", "trop grand"),
    (png_header_only(200_000, 200_000), "bombe2.png", "trop grand"),
    (pdf_bytes(10 * 1024 * 1024), "gros.pdf", "limite est de 10 Mo"),
])
def test_refusals_say_why_in_french(raw, name, message):
    with pytest.raises(uploads.UploadError, match=message):
        uploads.process_upload(raw, name, "Une description", "Un titre")


def test_the_content_decides_not_the_name():
    processed = uploads.process_upload(image_bytes("PNG", size=(50, 50), exif=False), "programme.pdf", "Un carré")
    assert processed.kind == "image" and processed.filename == "programme.png"
    pdf = uploads.process_upload(pdf_bytes(), "../../etc/passwd.png", None, " Programme ")
    assert pdf.kind == "pdf" and pdf.filename == "passwd.pdf" and pdf.title == "Programme"
    assert pdf.data == pdf_bytes()  # a PDF is stored as sent


def test_an_image_needs_its_alt_text():
    with pytest.raises(uploads.UploadError) as caught:
        uploads.process_upload(image_bytes("PNG", size=(50, 50), exif=False), "a.png", "   ")
    assert caught.value.field == "upload_alt" and "texte alternatif" in str(caught.value)


# --- Decompression bombs: refused from the header, decoding bounded -------------------------------

def single_colour_png(width: int, height: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), "green").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def decoding_forbidden(monkeypatch):
    """Any decoding of pixels fails the test: a refusal must come from the header alone."""
    from PIL import ImageFile

    def load(self):
        raise AssertionError(f"decoded {self.size} pixels")
    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


def test_a_real_decompression_bomb_png_is_refused_from_its_header_never_decoded(decoding_forbidden):
    raw = single_colour_png(20_000, 20_000)  # 400 million pixels in a few hundred Ko
    assert len(raw) < 2 * 1024 * 1024
    with pytest.raises(uploads.UploadError, match="pixels") as refused:
        uploads.process_upload(raw, "bombe.png", "Une description")
    assert "Envoyez une image" in str(refused.value)


@pytest.mark.parametrize("size, mode", [((6300, 6300), "RGBA"), ((7000, 5000), "RGB")])
def test_a_lossless_image_too_large_to_decode_in_bounds_is_refused_before_decoding(size, mode, decoding_forbidden):
    raw = single_colour_png(*size, mode=mode)  # under 40 million pixels, ~100-200 Ko, but > 100 Mo decoded
    with pytest.raises(uploads.UploadError, match="pixels"):
        uploads.process_upload(raw, "grande.png", "Une description")


MEMORY_PROBE = """
import io, sys
from PIL import Image
from contributions import uploads
fmt, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = io.BytesIO()
Image.linear_gradient("L").resize((width, height)).convert("RGB").save(out, fmt)
raw = out.getvalue()
assert len(raw) < uploads.MAX_IMAGE_BYTES, len(raw)
# The process's peak so far is the making of the test image: measure from a fresh peak instead.
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
processed = uploads.process_upload(raw, "photo", "Une description")
peak = int(next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1])
print(processed.width, processed.height, peak // 1024)
"""


@pytest.mark.parametrize("fmt, size, bound_mb", [("JPEG", (7000, 5000), 200), ("PNG", (4500, 4500), 200)])
def test_decoding_an_accepted_large_image_stays_within_a_memory_bound(fmt, size, bound_mb, tmp_path):
    """Peak resident memory of a fresh process handling one large image (reset before the call)."""
    import subprocess
    import sys
    from pathlib import Path
    root = Path(uploads.__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", MEMORY_PROBE, fmt, str(size[0]), str(size[1])],
                            capture_output=True, text=True, cwd=root, check=True)
    width, height, peak_mb = map(int, result.stdout.split())
    assert max(width, height) == uploads.WEB_MAX_SIDE
    assert peak_mb < bound_mb, f"{fmt} {size}: peak {peak_mb} Mo"
