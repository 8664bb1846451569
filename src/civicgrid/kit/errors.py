"""Domain errors carry their HTTP status and a message in both languages (DESIGN.md rule 3)."""

from __future__ import annotations

from typing import Any, ClassVar

from civicgrid.kit.i18n import pick


class AppError(Exception):
    """Base of every error a service raises; rendered as ``{"error": {"code", "message"}}``."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, zh: str, en: str, *, status: int | None = None, code: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en
        if status is not None:
            self.status = status  # type: ignore[misc]
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.details = details or {}

    def message(self, lang: str | None = None) -> str:
        return pick(self.zh, self.en, lang)

    def body(self, lang: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message(lang)}
        error.update(self.details)
        return {"error": error}


class NotAuthenticated(AppError):
    status = 401
    code = "not_authenticated"

    def __init__(self, zh: str = "请先登录", en: str = "Authentication required") -> None:
        super().__init__(zh, en)


class PermissionDenied(AppError):
    status = 403
    code = "permission_denied"

    def __init__(self, permission: str) -> None:
        super().__init__(f"没有权限：{permission}", f"Permission required: {permission}",
                         details={"permission": permission})


class NotFound(AppError):
    """Missing, or outside the caller's jurisdiction: both answer 404 so nothing leaks."""

    status = 404
    code = "not_found"

    def __init__(self, what_zh: str = "记录", what_en: str = "record") -> None:
        super().__init__(f"{what_zh}不存在", f"{what_en.capitalize()} not found")


class Conflict(AppError):
    status = 409
    code = "conflict"


class Invalid(AppError):
    """A well-formed request whose content breaks a rule (the rule names the field)."""

    status = 422
    code = "invalid"
