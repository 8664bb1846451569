"""People API: login (with the second factor), logout, me, password change, TOTP enrolment; users
(scoped, masked), role assignment and locks (三员分立), phone reveal (audited); roles and their
permissions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from civicgrid.authz.dependencies import require, require_session
from civicgrid.authz.principal import Principal
from civicgrid.config import get_settings
from civicgrid.db import DbSession
from civicgrid.kit.pagination import Offset
from civicgrid.people import service
from civicgrid.people.addresses import client_address
from civicgrid.people.models import Role, User
from civicgrid.people.schemas import (
    LoginRequest,
    LoginResponse,
    MeRead,
    PasswordChange,
    PendingRead,
    RevealIn,
    RevealRead,
    RoleAssign,
    RolePermissionsUpdate,
    RoleRead,
    TotpConfirm,
    TotpEnrolmentRead,
    UserCreate,
    UserPage,
    UserRead,
)

router = APIRouter(prefix="/api/v1", tags=["people"])


def _account(session: Session, user: User, jurisdiction: str) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "role": user.role_code,
            "role_name": service.role_name(user.role), "division_code": user.division_code,
            "division_name": service.division_name(session, user.division_code), "jurisdiction": jurisdiction}


def _me(session: Session, user: User, principal: Principal) -> MeRead:
    return MeRead(**_account(session, user, principal.jurisdiction), permissions=sorted(principal.permissions),
                  pending=principal.pending,
                  second_factor_required=service.needs_second_factor(user.role_code, principal.permissions),
                  totp_enrolled=service.totp_enrolled(user))


def _user_reads(session: Session, users: list[User]) -> list[UserRead]:
    locked = service.locked_names(session, users)
    return [UserRead(**_account(session, user, service.principal_of(user).jurisdiction),
                     phone=user.phone, is_active=user.is_active, locked=user.username in locked,
                     must_change_password=user.must_change_password, totp_enrolled=service.totp_enrolled(user),
                     created_at=user.created_at) for user in users]


def _user_read(session: Session, user: User) -> UserRead:
    return _user_reads(session, [user])[0]


@router.post("/auth/login", response_model=LoginResponse,
             responses={401: {"description": "Wrong username or password, or the TOTP code is missing or wrong"},
                        423: {"description": "This name is locked at this address after failed logins"},
                        429: {"description": "Too many failed logins from this address"}})
def login(session: DbSession, body: LoginRequest, request: Request) -> LoginResponse | JSONResponse:
    """登录 — exchange username, password (and the TOTP code) for a bearer token.

    A session with ``pending`` set may only finish that step (change the password, enrol the
    authenticator); every other endpoint answers 403 until then."""
    peer = request.client.host if request.client else None
    address = client_address(peer, request.headers.get("x-forwarded-for"), get_settings().trusted_proxies)
    outcome = service.login(session, body.username, body.password, code=body.code, ip=address,
                            user_agent=request.headers.get("user-agent"))
    if isinstance(outcome, service.LoginFailed):
        # Returned, not raised: the failure count and audit events must commit with this request.
        error = outcome.error
        headers: dict[str, str] = {}
        if error.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if error.status in (423, 429):
            headers["Retry-After"] = str(error.details["retry_after_seconds"])
        return JSONResponse(error.body(getattr(request.state, "lang", None)), status_code=error.status,
                            headers=headers)
    return LoginResponse(access_token=outcome.access_token, expires_in=outcome.expires_in,
                         pending=outcome.pending,
                         user=_me(session, outcome.user, outcome.principal))


@router.get("/auth/me", response_model=MeRead)
def me(session: DbSession, principal: Principal = Depends(require_session)) -> MeRead:
    """当前用户 — the logged-in user, role, jurisdiction, permissions and any pending step."""
    user = service.get_user(session, principal, principal.user_id)
    return _me(session, user, principal)


@router.post("/auth/password", response_model=PendingRead,
             responses={422: {"description": "Wrong current password, or the new one breaks the policy"}})
def change_password(session: DbSession, body: PasswordChange, request: Request,
                    principal: Principal = Depends(require_session)) -> PendingRead:
    """修改密码 — one's own; ends the user's other sessions. Allowed to a limited session."""
    pending = service.change_password(session, principal, request.state.auth_token_id, body.current_password,
                                      body.new_password)
    return PendingRead(pending=pending)


@router.post("/auth/totp/enrol", response_model=TotpEnrolmentRead,
             responses={409: {"description": "An authenticator is already enrolled"}})
def totp_enrol(session: DbSession, principal: Principal = Depends(require_session)) -> TotpEnrolmentRead:
    """绑定动态验证码 — a new secret for the caller's authenticator app, shown this once."""
    enrolment = service.begin_totp_enrolment(session, principal)
    return TotpEnrolmentRead(secret=enrolment.secret, uri=enrolment.uri, qr_svg=enrolment.qr_svg)


@router.post("/auth/totp/confirm", response_model=PendingRead,
             responses={409: {"description": "No enrolment waiting"}, 422: {"description": "Wrong code"}})
def totp_confirm(session: DbSession, body: TotpConfirm, request: Request,
                 principal: Principal = Depends(require_session)) -> PendingRead:
    """确认绑定 — one code from the app proves the enrolment; from then on logins need a code."""
    pending = service.confirm_totp(session, principal, request.state.auth_token_id, body.code)
    return PendingRead(pending=pending)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(session: DbSession, request: Request,
           principal: Principal = Depends(require_session)) -> None:
    """退出登录 — revoke the token used for this request."""
    service.logout(session, principal, request.state.auth_token_id)


@router.get("/users", response_model=UserPage)
def list_users(session: DbSession, offset: Offset = 0, limit: int = Query(50, ge=1, le=200),
               role: str | None = None, phone: str | None = None, q: str | None = Query(None, max_length=64),
               principal: Principal = Depends(require("users.read"))) -> UserPage:
    """账号列表 — users inside the caller's jurisdiction; ``phone`` finds by number (keyed hash)."""
    rows, total = service.list_users(session, principal, offset=offset, limit=limit, role=role, phone=phone,
                                     search=q)
    return UserPage(items=_user_reads(session, rows), total=total, offset=offset, limit=limit)


@router.post("/users", response_model=UserRead, status_code=status.HTTP_201_CREATED,
             responses={403: {"description": "Outside the caller's jurisdiction, or a role the caller may not grant"},
                        409: {"description": "Username taken"}})
def create_user(session: DbSession, body: UserCreate,
                principal: Principal = Depends(require("users.manage"))) -> UserRead:
    """新建账号 — inside the caller's own jurisdiction, with a role the caller may grant; the user
    changes the password at first login."""
    user = service.create_user(session, username=body.username, display_name=body.display_name,
                               role=body.role, division_code=body.division_code, password=body.password,
                               phone=body.phone, by=principal, must_change_password=True)
    return _user_read(session, user)


@router.put("/users/{user_id}/role", response_model=UserRead,
            responses={403: {"description": "A role the caller may not grant, or the caller's own account"},
                       404: {"description": "Missing or out of scope"}})
def assign_role(session: DbSession, user_id: str, body: RoleAssign,
                principal: Principal = Depends(require("roles.assign"))) -> UserRead:
    """分配角色 — the caller must be able to grant the account's role and the new one (三员分立)."""
    return _user_read(session, service.set_role(session, principal, user_id, body.role))


@router.delete("/users/{user_id}/totp", response_model=UserRead,
               responses={403: {"description": "An account whose role the caller may not grant, or one's own"},
                          404: {"description": "Missing or out of scope"}})
def reset_totp(session: DbSession, user_id: str,
               principal: Principal = Depends(require("roles.assign"))) -> UserRead:
    """重置动态验证码 — a lost authenticator: the account enrols a new one at its next login."""
    return _user_read(session, service.reset_totp(session, principal, user_id))


@router.post("/users/{user_id}/lock", response_model=UserRead,
             responses={403: {"description": "An account whose role the caller may not grant"},
                        404: {"description": "Missing or out of scope"}})
def lock_user(session: DbSession, user_id: str,
              principal: Principal = Depends(require("users.manage"))) -> UserRead:
    """锁定账号 — logins refused and sessions ended until unlocked."""
    return _user_read(session, service.set_active(session, principal, user_id, False))


@router.post("/users/{user_id}/unlock", response_model=UserRead,
             responses={403: {"description": "An account whose role the caller may not grant"},
                        404: {"description": "Missing or out of scope"}})
def unlock_user(session: DbSession, user_id: str,
                principal: Principal = Depends(require("users.manage"))) -> UserRead:
    """解锁账号 — also lifts locks left by failed logins."""
    return _user_read(session, service.set_active(session, principal, user_id, True))


@router.get("/users/{user_id}", response_model=UserRead,
            responses={404: {"description": "Missing or out of scope"}})
def get_user(session: DbSession, user_id: str,
             principal: Principal = Depends(require("users.read"))) -> UserRead:
    """账号详情 — 404 outside the caller's jurisdiction."""
    return _user_read(session, service.get_user(session, principal, user_id))


@router.post("/users/{user_id}/reveal", response_model=RevealRead,
             responses={404: {"description": "Missing or out of scope"},
                        422: {"description": "No purpose stated"}})
def reveal(session: DbSession, user_id: str, body: RevealIn,
           principal: Principal = Depends(require("pii.reveal"))) -> RevealRead:
    """查看明文 — the user's phone number in clear, for a stated purpose; recorded in the audit chain."""
    return RevealRead(id=user_id, phone=service.reveal_phone(session, principal, user_id, body.purpose))


@router.get("/roles", response_model=list[RoleRead])
def list_roles(session: DbSession, principal: Principal = Depends(require("roles.read"))) -> list[RoleRead]:
    """角色与权限 — every role and the permissions it grants."""
    return [_role_read(r) for r in service.list_roles(session)]


def _role_read(role: Role) -> RoleRead:
    return RoleRead(code=role.code, name=service.role_name(role), name_zh=role.name_zh, name_en=role.name_en,
                    description=role.description, permissions=sorted(role.permission_set))


@router.put("/roles/{code}/permissions", response_model=RoleRead,
            responses={404: {"description": "No such role"},
                       409: {"description": "An administrator role, or a reveal/audit permission on a role the "
                                            "system administrator grants"}})
def set_role_permissions(session: DbSession, code: str, body: RolePermissionsUpdate,
                         principal: Principal = Depends(require("roles.manage"))) -> RoleRead:
    """编辑角色权限 — the security administrator's alone; every change is audited."""
    return _role_read(service.set_role_permissions(session, principal, code, set(body.permissions)))
