"""Pick the user's language (zh-CN first, English second) from Accept-Language."""

from __future__ import annotations

from contextvars import ContextVar

SUPPORTED = ("zh-CN", "en")
_current_language: ContextVar[str] = ContextVar("civicgrid_language", default="zh-CN")


def negotiate(accept_language: str | None, default: str = "zh-CN") -> str:
    """Return ``"en"`` or ``"zh-CN"`` for an Accept-Language header value."""
    if not accept_language:
        return default
    best: tuple[float, str] | None = None
    for part in accept_language.split(","):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        tag = tag.strip().lower()
        lang = "en" if tag.startswith("en") else "zh-CN" if tag.startswith("zh") else None
        if lang and (best is None or quality > best[0]):
            best = (quality, lang)
    return best[1] if best else default


def set_language(lang: str) -> None:
    _current_language.set(lang)


def get_language() -> str:
    return _current_language.get()


def pick(zh: str, en: str, lang: str | None = None) -> str:
    """Choose between the Chinese and English text of a message."""
    return en if (lang or get_language()) == "en" else zh
