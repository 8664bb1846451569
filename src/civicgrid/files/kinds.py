"""What the file store accepts: kinds of file (data, ``data/kinds.json``) with their size limit and
content types, and the type of a file recognised from its first bytes (magic numbers), never from
the name or the type the client claims."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

KINDS_FILE = Path(__file__).resolve().parent / "data" / "kinds.json"

TYPE_NAMES: dict[str, str] = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WebP",
    "application/pdf": "PDF",
    "audio/amr": "AMR",
    "audio/mpeg": "MP3",
    "audio/mp4": "M4A",
    "audio/ogg": "OGG",
    "audio/wav": "WAV",
}
"""How a content type is named to a person (the 415 message lists what a kind accepts)."""

EXTENSIONS: dict[str, str] = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "audio/amr": ".amr",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/ogg": ".ogg",
    "audio/wav": ".wav",
}


@dataclass(frozen=True)
class Kind:
    """A kind of file: its names, the largest accepted size, the accepted content types, and
    whether each read is written to the audit chain."""

    code: str
    name_zh: str
    name_en: str
    max_bytes: int
    types: tuple[str, ...]
    audit_read: bool


@lru_cache(maxsize=1)
def kinds() -> dict[str, Kind]:
    """Every kind, read once from ``data/kinds.json``."""
    raw = json.loads(KINDS_FILE.read_text(encoding="utf-8"))
    return {
        code: Kind(code, v["name_zh"], v["name_en"], int(v["max_bytes"]), tuple(v["types"]), bool(v["audit_read"]))
        for code, v in raw.items()
        if not code.startswith("_")
    }


# M4A / MP4 audio brands (ISO base media); phone recorders write M4A, isom or mp42.
_MP4_BRANDS = (b"M4A ", b"M4B ", b"isom", b"mp42", b"mp41", b"3gp4", b"3gp5")


def sniff(content: bytes) -> str | None:
    """The content type by the file's magic bytes; None when it is none of the accepted ones
    (an executable renamed ``.jpg`` stays None)."""
    head = content[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head[4:8] == b"ftyp" and head[8:12] in _MP4_BRANDS:
        return "audio/mp4"
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    # An MPEG audio frame: 11 sync bits, a version that is not reserved, layer III.
    if (
        len(head) >= 2
        and head[0] == 0xFF
        and head[1] & 0xE0 == 0xE0
        and head[1] & 0x18 != 0x08
        and head[1] & 0x06 == 0x02
    ):
        return "audio/mpeg"
    return None
