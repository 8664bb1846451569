"""People API: login, logout, me; users (scoped, masked), phone reveal (audited); roles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from civicgrid.authz.dependencies import require, require_login
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession
from civicgrid.kit.pagination import Offset
from civicgrid.people import service
from civicgrid.people.models import User
from civicgrid.people.schemas import (
    LoginRequest,
    LoginResponse,
    MeRead,
    RevealIn,
    RevealRead,
    RoleRead,
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
    return MeRead(**_account(session, user, principal.jurisdiction), permissions=sorted(principal.permissions))


def _user_read(session: Session, user: User) -> UserRead:
    return UserRead(**_account(session, user, service.principal_of(user).jurisdiction),
                    phone=user.phone, is_active=user.is_active, locked=service.is_locked(user),
                    created_at=user.created_at)


@router.post("/auth/login", response_model=LoginResponse,
             responses={401: {"description": "Wrong username or password"},
                        423: {"description": "Locked after too many failed logins"}})
def login(session: DbSession, body: LoginRequest, request: Request) -> LoginResponse | JSONResponse:
    """登录 — exchange username and password for a bearer token."""
    outcome = service.login(session, body.username, body.password,
                            ip=request.client.host if request.client else None,
                            user_agent=request.headers.get("user-agent"))
    if isinstance(outcome, service.LoginFailed):
        # Returned, not raised: the failure count and audit events must commit with this request.
        error = outcome.error
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return JSONResponse(error.body(getattr(request.state, "lang", None)), status_code=error.status,
                            headers=headers)
    return LoginResponse(access_token=outcome.access_token, expires_in=outcome.expires_in,
                         user=_me(session, outcome.user, outcome.principal))


@router.get("/auth/me", response_model=MeRead)
def me(session: DbSession, principal: Principal = Depends(require_login)) -> MeRead:
    """当前用户 — the logged-in user, role, jurisdiction and permissions."""
    user = service.get_user(session, principal, principal.user_id)
    return _me(session, user, principal)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(session: DbSession, request: Request,
           principal: Principal = Depends(require_login)) -> None:
    """退出登录 — revoke the token used for this request."""
    service.logout(session, principal, request.state.auth_token_id)


@router.get("/users", response_model=UserPage)
def list_users(session: DbSession, offset: Offset = 0, limit: int = Query(50, ge=1, le=200),
               role: str | None = None, phone: str | None = None, q: str | None = Query(None, max_length=64),
               principal: Principal = Depends(require("users.read"))) -> UserPage:
    """账号列表 — users inside the caller's jurisdiction; ``phone`` finds by number (keyed hash)."""
    rows, total = service.list_users(session, principal, offset=offset, limit=limit, role=role, phone=phone,
                                     search=q)
    return UserPage(items=[_user_read(session, u) for u in rows], total=total, offset=offset, limit=limit)


@router.post("/users", response_model=UserRead, status_code=status.HTTP_201_CREATED,
             responses={403: {"description": "Outside the caller's jurisdiction"},
                        409: {"description": "Username taken"}})
def create_user(session: DbSession, body: UserCreate,
                principal: Principal = Depends(require("users.manage"))) -> UserRead:
    """新建账号 — inside the caller's own jurisdiction only."""
    user = service.create_user(session, username=body.username, display_name=body.display_name,
                               role=body.role, division_code=body.division_code, password=body.password,
                               phone=body.phone, by=principal)
    return _user_read(session, user)


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
    return [RoleRead(code=r.code, name=service.role_name(r), name_zh=r.name_zh, name_en=r.name_en,
                     description=r.description, permissions=sorted(r.permission_set))
            for r in service.list_roles(session)]
