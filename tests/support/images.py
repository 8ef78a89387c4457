"""Images and PDFs made in memory for the tests."""
from __future__ import annotations

import io

from PIL import ExifTags, Image

GPS = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (48.0, 54.0, 36.0),
       ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (2.0, 26.0, 24.0)}


def image_bytes(fmt="JPEG", size=(2400, 1600), mode="RGB", color=(200, 30, 90), exif=True, **save) -> bytes:
    image = Image.new(mode, size, color)
    out = io.BytesIO()
    if exif:
        data = Image.Exif()
        data[ExifTags.Base.Make] = "Appareil espion"
        data[ExifTags.Base.Artist] = "Amina Benali"
        data[ExifTags.Base.GPSInfo] = GPS
        save["exif"] = data.tobytes()
    image.save(out, fmt, **save)
    return out.getvalue()


def pdf_bytes(extra: int = 0) -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + b"%" * extra + b"\n%%EOF\n"
