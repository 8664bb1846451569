"""Request and response bodies of the people API (login, users, roles)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from civicgrid.kit.personal import MaskedPhone


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    code: str | None = Field(default=None, max_length=16,
                             description="The 6-digit authenticator (TOTP) code, where one is enrolled")


class AccountRead(BaseModel):
    """Who an account is: identity, role and jurisdiction (shared by every account view)."""

    id: str
    username: str
    display_name: str
    role: str
    role_name: str
    division_code: str
    division_name: str | None
    jurisdiction: str


Pending = Literal["password_change", "totp_enrolment"]


class MeRead(AccountRead):
    """The logged-in user as the console needs it: the account, its permissions, and the step a
    limited session must finish first (``pending``; null for a full session)."""

    permissions: list[str]
    pending: Pending | None = None
    second_factor_required: bool = False
    totp_enrolled: bool = False


class LoginResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds of inactivity after which the token lapses")
    pending: Pending | None = Field(default=None, description="The step this session is limited to")
    user: MeRead


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class PendingRead(BaseModel):
    """What the session is still limited to after a step (null: a full session now)."""

    pending: Pending | None


class TotpEnrolmentRead(BaseModel):
    """A new authenticator secret, shown this once: scan the QR code or type the secret."""

    secret: str
    uri: str = Field(description="otpauth://totp/… (RFC 6238, SHA1, 6 digits, 30 s)")
    qr_svg: str = Field(description="The URI as a QR code, an SVG data: URI")


class TotpConfirm(BaseModel):
    code: str = Field(min_length=6, max_length=16)


class RoleAssign(BaseModel):
    role: str = Field(min_length=1, max_length=40)


class RolePermissionsUpdate(BaseModel):
    permissions: list[str] = Field(max_length=200)


class UserCreate(BaseModel):
    """A new account. The password must satisfy the policy (≥ 8 characters, ≥ 3 classes, not a
    common one); the user changes it at first login."""

    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    display_name: str = Field(min_length=1, max_length=64)
    role: str = Field(min_length=1, max_length=40)
    division_code: str = Field(pattern=r"^\d{12}(\d{3})?$",
                               description="12-digit division code or 15-digit grid code")
    password: str = Field(min_length=1, max_length=256)
    phone: str | None = Field(default=None, max_length=20)


class UserRead(AccountRead):
    """An account as other users see it: the phone number is always masked (reveal is a separate,
    audited action)."""

    model_config = ConfigDict(from_attributes=True)

    phone: MaskedPhone = Field(description="Masked, e.g. 138****5678")
    is_active: bool
    locked: bool = Field(description="Locked after failed logins (at some client address)")
    must_change_password: bool
    totp_enrolled: bool
    created_at: datetime


class UserPage(BaseModel):
    items: list[UserRead]
    total: int
    offset: int
    limit: int


class RevealIn(BaseModel):
    """Why the caller needs the value in clear: required, stored in the audit chain."""

    purpose: str = Field(min_length=1, max_length=200, description="事由, e.g. 回访核实")


class RevealRead(BaseModel):
    """Personal data in clear, returned only to holders of pii.reveal and audited."""

    id: str
    phone: str | None


class PermissionRead(BaseModel):
    code: str
    name: str


class RoleRead(BaseModel):
    code: str
    name: str
    name_zh: str
    name_en: str
    description: str
    permissions: list[str]
