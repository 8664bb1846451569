"""Rules of the Open311 GeoReport v2 interface: registered clients and their API keys, matter
types as services, matters as service requests.

* **Keys.** A key is shown once, when its client is registered; only its keyed hash
  (HMAC-SHA256 with a key derived from the secret key) is stored, so a copy of the table opens
  nothing. A revoked client's key answers 403 like an unknown one.
* **Jurisdiction.** A client is registered for a division; it may file requests only for
  places under that division and reads back only the Open311 requests filed for places under it
  (the platform's jurisdiction rule, on the grid the matter happened in). Matters reported
  through the other channels (grid workers, hotline, volunteers) are not published: their
  descriptions were never written for a third party.
* **Intake.** ``POST requests`` creates the matter at once through
  :func:`civicgrid.matters.service.report` (channel ``open311``, attributed to the client), so
  the answer carries the final ``service_request_id``; the token returned beside it (the
  ``Idempotency-Key`` header when the client sends one) makes a retry return the first request.
* **Personal data.** Names and phone numbers posted with a request reach the matter (the
  phone encrypted) for the handlers' return visit; no GeoReport answer ever contains them.
  E-mail addresses are not stored: nothing in the closed loop uses them.

Every function flushes, never commits; errors are :class:`AppError` with the HTTP status the
GeoReport specification gives (400 bad field, 401/403 key, 404 unknown service or request).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from sqlalchemy.orm import Session

from civicgrid.apiclients import service as apiclients
from civicgrid.apiclients.models import ApiClient
from civicgrid.authz.principal import Principal
from civicgrid.geo import service as geo
from civicgrid.kit.clock import CHINA_TZ, utcnow
from civicgrid.kit.errors import AppError, Invalid, NotFound
from civicgrid.kit.i18n import pick
from civicgrid.kit.ids import new_id
from civicgrid.matters import catalogue
from civicgrid.matters import service as matters
from civicgrid.matters import workflow as wf
from civicgrid.matters.models import Channel, Matter, MatterType
from civicgrid.matters.open311 import repository
from civicgrid.matters.open311.models import Open311Request
from civicgrid.matters.open311.schemas import (
    Discovery,
    DiscoveryEndpoint,
    Open311ClientRead,
    RequestCreated,
    Service,
    ServiceDefinition,
    ServiceRequest,
    TokenAnswer,
)
from civicgrid.matters.schemas import MatterCreate
from civicgrid.worktime import service as worktime

DEFAULT_WINDOW = timedelta(days=90)  # GeoReport v2: the default and the longest span of GET requests
MAX_RESULTS = 1000  # GeoReport v2: "or first 1000 requests returned"
MAX_DESCRIPTION = 4000
MAX_IDS = 200


STATUS_LABELS: dict[str, tuple[str, str]] = {
    "reported": ("已登记，等待受理", "Registered, awaiting acceptance"),
    "escalated": ("已上报上级，等待受理", "Referred to the level above, awaiting acceptance"),
    "returned": ("退回重新分派中", "Being reassigned"),
    "accepted": ("已受理", "Accepted"),
    "dispatched": ("已派遣", "Dispatched"),
    "handling": ("办理中", "In progress"),
    "handled": ("已办结，等待核查", "Handled, awaiting verification"),
    "verified": ("已核查", "Verified"),
    "closed": ("已结案", "Closed"),
    "evaluated": ("已结案并回访", "Closed and followed up"),
    "rejected": ("不予受理", "Not accepted"),
    "cancelled": ("已撤销", "Cancelled"),
    "merged": ("已与相同事项合并办理", "Merged with a report of the same matter"),
}
LEVEL_NAMES = {"village": ("村（社区）", "village"), "township": ("乡镇（街道）", "township"),
               "county": ("县（市、区）", "county"), "city": ("市", "city")}
LIST_NAMES = {"power": ("权力清单", "power list"), "responsibility": ("责任清单", "responsibility list"),
              "service": ("公共服务清单", "public-service list")}
UNIT_NAMES = {"minutes": ("分钟", "minutes"), "hours": ("小时", "hours"), "days": ("天", "days"),
              "working_hours": ("个工作小时", "working hours"), "working_days": ("个工作日", "working days")}


class BadRequest(AppError):
    """A missing or malformed GeoReport field (400, as the specification answers it)."""

    status = 400
    code = "bad_request"


def _bad(zh: str, en: str, field: str) -> BadRequest:
    return BadRequest(zh, en, details={"field": field})


# ---------------------------------------------------------------- keys and clients
# Open311 clients are platform API clients of kind ``open311`` (civicgrid.apiclients): the same
# keys, hashes, revocation and scoping; this module keeps the GeoReport wording of its answers.

OPEN311 = "open311"


def key_hash(raw_key: str) -> str:
    """The keyed hash an API key is stored and looked up by."""
    return apiclients.key_hash(raw_key)


def new_api_key() -> str:
    """A fresh key: ``o311_`` and 43 URL-safe characters (256 random bits)."""
    return apiclients.new_api_key(OPEN311)


def _division_name(session: Session, code: str, cache: dict[str, str | None] | None = None) -> str | None:
    if cache is not None and code in cache:
        return cache[code]
    name = geo.name_of(session, code)
    if cache is not None:
        cache[code] = name
    return name


def client_read(session: Session, client: ApiClient) -> Open311ClientRead:
    """The administrator's view of a client (never the key or its hash)."""
    return Open311ClientRead(id=client.id, name=client.name, contact=client.contact,
                             division_code=client.division_code,
                             division_name=_division_name(session, client.division_code),
                             key_prefix=client.key_prefix, active=client.active, created_at=client.created_at,
                             created_by=client.created_by, revoked_at=client.revoked_at)


def create_client(session: Session, *, name: str, division_code: str, contact: str = "", created_by: str,
                  principal: Principal | None = None) -> tuple[ApiClient, str]:
    """Register a client for a division; returns the client and its API key (shown this once).

    ``principal`` (the administrator, when called through the API) must govern the division:
    a division outside the caller's jurisdiction answers 404 like an unknown one.
    """
    return apiclients.create_client(session, name=name, system_kind=OPEN311,
                                    record_kinds=[apiclients.OPEN311_REQUEST.code], division_code=division_code,
                                    contact=contact, created_by=created_by, principal=principal)


def list_clients(session: Session, principal: Principal) -> list[ApiClient]:
    """The Open311 clients registered for divisions inside the caller's jurisdiction."""
    return apiclients.list_clients(session, principal, system_kind=OPEN311)


def all_clients(session: Session) -> list[ApiClient]:
    """Every Open311 client (the command line, run by the operator)."""
    return apiclients.all_clients(session, system_kind=OPEN311)


def get_client(session: Session, client_id: str, *, principal: Principal | None) -> ApiClient:
    """An Open311 client registered for a division ``principal`` may see (``None``: the operator
    on the command line, anywhere); 404 otherwise."""
    try:
        return apiclients.get_client(session, client_id, principal=principal, system_kind=OPEN311)
    except NotFound:
        raise NotFound("Open311 接入方", "Open311 client") from None


def revoke_client(session: Session, client_id: str, *, principal: Principal | None) -> ApiClient:
    """Revoke a client's key at once (idempotent: a revoked client stays revoked); ``None``: the
    operator on the command line."""
    get_client(session, client_id, principal=principal)
    return apiclients.revoke_client(session, client_id, principal=principal, system_kind=OPEN311)


def authenticate(session: Session, raw_key: str | None) -> ApiClient:
    """The active client holding ``raw_key``: no key → 401, an unknown or revoked one (or a platform
    client not allowed to file Open311 requests) → 403.

    Attributes the session's writes to the client in the audit chain.
    """
    if not raw_key:
        raise AppError("缺少 api_key：请使用登记时发放的 API 密钥",
                       "api_key is required: use the key issued at registration", status=401, code="api_key_required")
    try:
        return apiclients.authenticate(session, raw_key, apiclients.OPEN311_REQUEST.code)
    except AppError:
        raise AppError("api_key 无效或已被吊销", "Invalid or revoked api_key", status=403,
                       code="invalid_api_key") from None


def client_principal(client: ApiClient) -> Principal:
    """The client as the matters service sees a reporter: it may report, inside its division."""
    return apiclients.client_principal(client)


# ---------------------------------------------------------------- services

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
MEDIA_TYPES = ("application/json", "application/xml")


def discovery(session: Session, url: str, lang: str) -> Discovery:
    """The discovery document for the endpoint at ``url``; its changeset is the date of the
    current catalogue version (services change only with the catalogue)."""
    changed = iso_datetime(catalogue.current(session).created_at)
    return Discovery(changeset=changed,
                     contact=pick("市委政法委综治中心", "City comprehensive-governance centre", lang),
                     key_service=pick("API 密钥由市、县管理员登记发放（civicgrid open311 client-create）",
                                      "API keys are issued by city or county administrators "
                                      "(civicgrid open311 client-create)", lang),
                     endpoints=[DiscoveryEndpoint(specification=SPECIFICATION, url=url, changeset=changed,
                                                  type="production", formats=list(MEDIA_TYPES))])



def _limit_text(amount: int, unit: str, lang: str) -> str:
    zh, en = UNIT_NAMES.get(unit, (unit, unit))
    return pick(f"{amount} {zh}", f"{amount} {en}", lang)


def _service(t: MatterType, lang: str) -> Service:
    level = LEVEL_NAMES.get(t.owner_level, (t.owner_level, t.owner_level))
    listed = LIST_NAMES.get(t.list_kind, (t.list_kind, t.list_kind))
    department = pick(t.department, t.department_en or t.department, lang)
    limits = catalogue.limits_of(t)
    handle = _limit_text(*limits["handle"], lang) if "handle" in limits else ""
    description = pick(f"{t.category_zh}：{t.name_zh}。责任层级：{level[0]}；责任部门：{t.department}；"
                       f"办理时限：{handle}（{listed[0]}）。",
                       f"{t.category_en}: {t.name_en}. Owned by the {level[1]} level; department: "
                       f"{t.department_en or t.department}; handling time limit: {handle} ({listed[1]}).", lang)
    keywords = [pick(t.category_zh, t.category_en, lang)]
    separators = ("、", ",") if lang != "en" else (",",)
    parts = [department]
    for sep in separators:
        parts = [piece.strip() for part in parts for piece in part.split(sep)]
    keywords += [p for p in parts if p]
    return Service(service_code=t.code, service_name=pick(t.name_zh, t.name_en, lang), description=description,
                   keywords=",".join(dict.fromkeys(keywords)), group=pick(t.category_zh, t.category_en, lang))


def services(session: Session, lang: str) -> list[Service]:
    """Every active matter type of the current catalogue, as a GeoReport service."""
    return [_service(t, lang) for t in catalogue.current_types(session)]


def _active_type(session: Session, service_code: str) -> MatterType:
    code = service_code.strip().upper()
    for t in catalogue.current_types(session):
        if t.code == code:
            return t
    raise AppError(f"服务代码 {service_code} 不存在", f"Unknown service_code: {service_code}", status=404,
                   code="unknown_service", details={"field": "service_code"})


def service_definition(session: Session, service_code: str) -> ServiceDefinition:
    """A service's definition: no extra attributes (every service has ``metadata`` false)."""
    return ServiceDefinition(service_code=_active_type(session, service_code).code, attributes=[])


# ---------------------------------------------------------------- posting a request


def _field(fields: Mapping[str, str], name: str, max_len: int) -> str | None:
    value = (fields.get(name) or "").strip()
    if len(value) > max_len:
        raise _bad(f"{name} 过长（上限 {max_len} 个字符）", f"{name} is too long (at most {max_len} characters)", name)
    return value or None


def _coordinate(fields: Mapping[str, str], name: str, low: float, high: float) -> float:
    raw = (fields.get(name) or "").strip()
    try:
        value = float(raw)
    except ValueError:
        raise _bad(f"{name} 应为数字（WGS-84 十进制度）", f"{name} must be a number (WGS-84 decimal degrees)",
                   name) from None
    if not low <= value <= high:
        raise _bad(f"{name} 超出范围（{low}～{high}）", f"{name} is out of range ({low} to {high})", name)
    return value


def _reporter_name(first: str | None, last: str | None) -> str | None:
    if not first and not last:
        return None
    if (first or "").isascii() and (last or "").isascii():
        return " ".join(p for p in (first, last) if p)[:64]
    return f"{last or ''}{first or ''}"[:64]  # Chinese order: family name first, no space


def _title(description: str | None, t: MatterType) -> str:
    first_line = (description or "").strip().splitlines()[0].strip() if (description or "").strip() else ""
    return (first_line[:60] or t.name_zh)[:120]


def submit(session: Session, client: ApiClient, fields: Mapping[str, str], *, token: str | None,
           lang: str) -> RequestCreated:
    """``POST requests``: create the matter at once and answer with its id.

    ``fields`` are the posted form fields (``service_code``, ``lat``, ``long``, ``address_string``,
    ``description``, ``first_name``, ``last_name``, ``phone``, ``email``, ``media_url``). Only
    coordinates place a report: an address alone is refused (400) — the platform routes by the grid
    the point falls in and resolves no addresses. A point outside the city, or outside the client's
    division, is refused (400). A retry with the same token returns the first request.
    """
    service_code = _field(fields, "service_code", 16)
    if service_code is None:
        raise _bad("缺少 service_code", "service_code is required", "service_code")
    has_lat, has_long = bool((fields.get("lat") or "").strip()), bool((fields.get("long") or "").strip())
    if not (has_lat and has_long):
        if has_lat or has_long:
            raise _bad("lat 与 long 须同时提供", "lat and long must be given together",
                       "lat" if not has_lat else "long")
        if (fields.get("address_string") or "").strip() or (fields.get("address_id") or "").strip():
            raise _bad("需要经纬度坐标（lat、long，WGS-84）：本平台按坐标定位所在网格，不解析地址；"
                       "地址可随坐标一并提交",
                       "Coordinates are required (lat and long, WGS-84): the platform places a report by the grid "
                       "its point falls in and does not resolve addresses; send the address along with them", "lat")
        raise _bad("缺少位置：请提供 lat 与 long（WGS-84）", "Location missing: give lat and long (WGS-84)", "lat")
    lat = _coordinate(fields, "lat", -90, 90)
    lng = _coordinate(fields, "long", -180, 180)
    description = _field(fields, "description", MAX_DESCRIPTION)
    address = _field(fields, "address_string", 200)
    media_url = _field(fields, "media_url", 2000)
    if media_url is not None and not media_url.lower().startswith(("http://", "https://")):
        raise _bad("media_url 应为 http(s) 链接", "media_url must be an http(s) URL", "media_url")
    name = _reporter_name(_field(fields, "first_name", 64), _field(fields, "last_name", 64))
    phone = _field(fields, "phone", 32)
    _field(fields, "email", 254)  # checked for size only: e-mail addresses are not stored
    matter_type = _active_type(session, service_code)

    grid = geo.locate_code(session, lng, lat)
    if grid is None:
        raise _bad("位置不在本市范围内（请确认坐标为 WGS-84 经纬度）",
                   "The location is outside the city (check that lat/long are WGS-84)", "lat")
    # Anywhere in the city, as on every channel (matters.service.in_full_view): the matter goes to
    # the owner of the point's grid, and a request filed outside the client's division reads back
    # as its public view.
    principal = client_principal(client)

    if token is not None:
        token = token.strip()
        if not token or len(token) > 64:
            raise _bad("Idempotency-Key 应为 1–64 个字符", "Idempotency-Key must be 1 to 64 characters", "token")
        earlier = repository.request_by_token(session, client.id, token, principal)
        if earlier is not None:
            return _created(session, matters.get(session, principal, earlier.matter_id), earlier, lang)
    token = token or new_id()
    try:
        data = MatterCreate.model_validate({
            "type_code": matter_type.code, "title": _title(description, matter_type), "description": description or "",
            "lng": lng, "lat": lat, "address": address, "channel": "resident", "reporter_name": name,
            "reporter_phone": phone})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first.get("loc") else "-"
        raise _bad(f"{field}：{first.get('msg', '')}", f"{field}: {first.get('msg', '')}", field) from None
    # The public intake schema offers only the people-facing channels; this one is Open311's own.
    data = data.model_copy(update={"channel": Channel.OPEN311.value})
    try:
        matter, created = matters.report(session, principal, data, idempotency_key=token)
    except Invalid as exc:
        field = {"reporter_phone": "phone", "lng": "long", "type_code": "service_code"}.get(
            str(exc.details.get("field")), str(exc.details.get("field") or "-"))
        raise _bad(exc.zh, exc.en, field) from None
    link = repository.request_by_matter(session, matter.id, principal)
    if link is None:
        link = Open311Request(matter_id=matter.id, client_id=client.id, token=token, grid_code=matter.grid_code,
                              media_url=media_url, created_at=matter.reported_at)
        session.add(link)
        session.flush()
    return _created(session, matter, link, lang, fresh=created)


def _created(session: Session, matter: Matter, link: Open311Request, lang: str, *,
             fresh: bool = True) -> RequestCreated:
    agency = _agency(session, matter, None, lang, {})
    notice = pick(f"事项编号 {matter.number}，由{agency}办理。" + ("" if fresh else "（重复提交，返回首次登记的事项）"),
                  f"Matter number {matter.number}, handled by {agency}."
                  + ("" if fresh else " (Repeated submission: this is the request filed first.)"), lang)
    from civicgrid.matters.open311 import rating

    return RequestCreated(service_request_id=matter.id, token=link.token, service_notice=notice, account_id=None,
                          rating_url=rating.rating_path(matter.id))


# ---------------------------------------------------------------- reading requests


@dataclass(frozen=True)
class RequestQuery:
    """The filters of ``GET requests`` as posted (strings), parsed by :func:`list_requests`."""

    service_request_id: str | None = None
    service_code: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    status: str | None = None


def _parse_datetime(raw: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise _bad(f"{name} 应为 ISO 8601 时间（如 2026-11-01T00:00:00+08:00）",
                   f"{name} must be an ISO 8601 date-time (e.g. 2026-11-01T00:00:00Z)", name) from None
    # The specification asks for a zone; a value without one is read as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _csv(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def list_requests(session: Session, client: ApiClient, query: RequestQuery, lang: str) -> list[ServiceRequest]:
    """``GET requests``: the Open311 requests under the client's division, newest first, at most
    1000. ``service_request_id`` (comma list) overrides every other filter, as the specification
    says; otherwise the window is the last 90 days unless ``start_date``/``end_date`` say
    otherwise (at most 90 days apart)."""
    ids = _csv(query.service_request_id)
    if ids:
        if len(ids) > MAX_IDS:
            raise _bad(f"service_request_id 最多 {MAX_IDS} 个", f"At most {MAX_IDS} service_request_id values",
                       "service_request_id")
        rows = repository.list_requests(session, client_principal(client), client.id, ids=ids, limit=MAX_RESULTS)
        return _to_requests(session, client, rows, lang)
    codes = [c.upper() for c in _csv(query.service_code)] or None
    statuses: set[str] | None = None
    wanted = _csv(query.status)
    if wanted:
        statuses = set()
        for value in wanted:
            if value.lower() == "open":
                statuses |= {str(s) for s in wf.OPEN}
            elif value.lower() == "closed":
                statuses |= {str(s) for s in wf.FINISHED}
            else:
                raise _bad("status 应为 open 或 closed", "status must be open or closed", "status")
    start = _parse_datetime(query.start_date, "start_date") if query.start_date else None
    end = _parse_datetime(query.end_date, "end_date") if query.end_date else None
    if start is None and end is None:
        end = utcnow()
    if start is None:
        assert end is not None
        start = end - DEFAULT_WINDOW
    if end is None:
        end = start + DEFAULT_WINDOW
    if end < start:
        raise _bad("end_date 早于 start_date", "end_date is before start_date", "end_date")
    if end - start > DEFAULT_WINDOW:
        raise _bad("查询时间跨度不能超过 90 天", "start_date and end_date may not span more than 90 days", "end_date")
    rows = repository.list_requests(session, client_principal(client), client.id, service_codes=codes, start=start,
                                    end=end, statuses=statuses, limit=MAX_RESULTS)
    return _to_requests(session, client, rows, lang)


def get_request(session: Session, client: ApiClient, service_request_id: str, lang: str) -> ServiceRequest:
    """``GET requests/{id}``: one request under the client's division; 404 otherwise."""
    rows = repository.list_requests(session, client_principal(client), client.id,
                                    ids=[service_request_id.strip()], limit=1)
    if not rows:
        raise AppError(f"服务请求 {service_request_id} 不存在", f"Service request {service_request_id} not found",
                       status=404, code="not_found", details={"field": "service_request_id"})
    return _to_requests(session, client, rows, lang)[0]


def resolve_token(session: Session, client: ApiClient, token: str) -> TokenAnswer:
    """``GET tokens/{token}``: the request id a token stands for (the filing client's only)."""
    link = repository.request_by_token(session, client.id, token.strip(), client_principal(client))
    if link is None:
        raise AppError(f"令牌 {token} 不存在", f"Token {token} not found", status=404, code="not_found",
                       details={"field": "token"})
    return TokenAnswer(service_request_id=link.matter_id, token=link.token)


# ---------------------------------------------------------------- rendering a matter


def iso_datetime(value: datetime | None) -> str | None:
    """ISO 8601 with the zone: Beijing time, the time residents read."""
    return value.astimezone(CHINA_TZ).isoformat(timespec="seconds") if value is not None else None


def _agency(session: Session, matter: Matter, matter_type: MatterType | None, lang: str,
            names: dict[str, str | None]) -> str:
    division = _division_name(session, matter.division_code, names) or matter.division_code
    department = matter.department
    if lang == "en" and matter_type is not None and matter_type.department == matter.department \
            and matter_type.department_en:
        department = matter_type.department_en
    return pick(f"{division} {department}", f"{department} ({division})", lang)


def _public_notes(session: Session, matter_ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
    """The latest public note per matter: (action, text); a step without words (a bare "close")
    keeps the earlier note."""
    return {matter_id: (notes[-1].action, notes[-1].note)
            for matter_id, notes in matters.public_notes(session, list(matter_ids)).items() if notes}


def expected_at(session: Session, matter: Matter, matter_type: MatterType | None) -> datetime | None:
    """When the matter should be settled if every remaining step takes its full time limit: the
    running step's deadline plus the limits of the steps after it, on the working calendar.
    None when no step is timed (finished, verified and awaiting closure, or being reassigned)."""
    if matter.status in wf.FINISHED or matter.step is None or matter.step_due_at is None or matter_type is None:
        return None
    steps = list(catalogue.STEPS)
    if matter.step not in steps:
        return matter.step_due_at
    limits = catalogue.limits_of(matter_type)
    calendar = worktime.load(session)  # pure arithmetic: a read never records calendar gaps
    due = matter.step_due_at
    for name in steps[steps.index(matter.step) + 1:]:
        if name in limits:
            due = calendar.add(due, *limits[name]).at
    return due


def _status_notes(matter: Matter, public: tuple[str, str | None] | None, lang: str) -> str:
    label = pick(*STATUS_LABELS.get(str(matter.status), (str(matter.status), str(matter.status))), lang)
    if public is None or not public[1]:
        return label
    return pick(f"{label}：{public[1]}", f"{label}: {public[1]}", lang)


def _to_requests(session: Session, client: ApiClient, rows: Iterable[tuple[Matter, Open311Request]],
                 lang: str) -> list[ServiceRequest]:
    pairs = [(m, r) for m, r in rows]
    types = repository.types_by_id(session, {m.type_id for m, _ in pairs})
    notes = _public_notes(session, [m.id for m, _ in pairs])
    names: dict[str, str | None] = {}
    principal = client_principal(client)
    out = []
    for matter, link in pairs:
        t = types.get(matter.type_id)
        if not matters.in_full_view(principal, matter):
            # Filed by this client outside its division: the public view only (number, type,
            # status, public notes), the one the REST API gives such a reporter.
            view = matters.public_view(session, matter, lang)
            latest = (view.notes[-1].action, view.notes[-1].note) if view.notes else None
            out.append(ServiceRequest(
                service_request_id=view.id, status="closed" if view.status in wf.FINISHED else "open",
                status_notes=_status_notes(matter, latest, lang), service_name=view.type_name,
                service_code=view.type_code, description=None, agency_responsible=None,
                service_notice=pick(f"事项编号 {view.number}", f"Matter number {view.number}", lang),
                requested_datetime=iso_datetime(view.reported_at) or "",
                updated_datetime=iso_datetime(view.status_changed_at), expected_datetime=None, address=None,
                lat=None, long=None, media_url=None))
            continue
        out.append(ServiceRequest(
            service_request_id=matter.id,
            status="closed" if matter.status in wf.FINISHED else "open",
            status_notes=_status_notes(matter, notes.get(matter.id), lang),
            service_name=pick(t.name_zh, t.name_en, lang) if t else None,
            service_code=matter.type_code,
            description=matter.description or None,
            agency_responsible=_agency(session, matter, t, lang, names),
            service_notice=pick(f"事项编号 {matter.number}", f"Matter number {matter.number}", lang),
            requested_datetime=iso_datetime(matter.reported_at) or "",
            updated_datetime=iso_datetime(matter.status_changed_at),
            expected_datetime=iso_datetime(expected_at(session, matter, t)),
            address=matter.address,
            lat=matter.lat,
            long=matter.lng,
            media_url=link.media_url,
        ))
    return out
