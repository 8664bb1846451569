"""The file store (issue 14 §5): a file reads back byte for byte; outside the caller's scope it is
404; bytes changed on disk are refused, never served; limits by kind (413) and type by the bytes
(415); a failed write leaves no file under the blob's name and no row. Real database (SQLite or
PostgreSQL), real HTTP."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from civicgrid.audit.models import AuditEntry
from civicgrid.db import transaction
from civicgrid.files import backends, kinds
from civicgrid.files import service as files
from civicgrid.files.models import StoredFile
from civicgrid.kit.errors import AppError
from tests.conftest import LiveServer, Yongzhou
from tests.factories import auth_headers, login, make_role_committed, make_user_committed
from tests.matters.conftest import actor, place_in
from tests.matters.test_intake import body, png

LINGLING = "431102000000"  # 零陵区
LENGSHUITAN = "431103000000"  # 冷水滩区
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64  # a Windows executable


def _store(
    engine: Engine,
    *,
    kind: str = "agreement",
    content: bytes = PDF,
    division_code: str = LINGLING,
    owner_type: str = "test_case",
    name: str | None = "调解协议书.pdf",
) -> StoredFile:
    """A file of an owner type with no access rule of its own: scoped by its division code."""
    with transaction(engine) as session:
        return files.store(
            session,
            None,
            owner_type=owner_type,
            owner_id="case-1",
            division_code=division_code,
            kind=kind,
            content=content,
            file_name=name,
        )


def _reader(server: LiveServer, engine: Engine, division_code: str) -> dict[str, str]:
    role = make_role_committed(engine, permissions={"files.read"})
    user = make_user_committed(engine, role=role.code, division_code=division_code)
    return auth_headers(login(server.url, user.username))


def _blob(stored: StoredFile) -> Path:
    return Path(backends.settings().dir) / stored.storage_key


def _audit_count(engine: Engine, action: str, file_id: str) -> int:
    with transaction(engine, write=False) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == action, AuditEntry.entity_id == file_id)
            )
            or 0
        )


def test_a_stored_file_reads_back_equal_with_its_type_and_name(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou
) -> None:
    stored = _store(engine)
    assert stored.content_type == "application/pdf" and stored.size == len(PDF) and stored.backend == "fs"
    assert _blob(stored).read_bytes() == PDF  # content-addressed: ab/cd/<sha256>
    assert stored.storage_key == f"{stored.sha256[:2]}/{stored.sha256[2:4]}/{stored.sha256}"
    headers = _reader(live_server, engine, LINGLING)
    response = httpx.get(f"{live_server.url}/api/v1/files/{stored.id}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["etag"] == f'"{stored.sha256}"'
    assert response.headers["content-disposition"].startswith("inline;")
    assert "%E8%B0%83%E8%A7%A3" in response.headers["content-disposition"]  # 调解, RFC 5987
    download = httpx.get(f"{live_server.url}/api/v1/files/{stored.id}?download=true", headers=headers)
    assert download.headers["content-disposition"].startswith("attachment;")
    # An agreement is a personal document: each read is in the audit chain (not a reveal).
    assert _audit_count(engine, "files.read", stored.id) == 2


def test_a_file_of_another_county_answers_404_like_a_missing_one(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou
) -> None:
    stored = _store(engine)
    outside = httpx.get(
        f"{live_server.url}/api/v1/files/{stored.id}", headers=_reader(live_server, engine, LENGSHUITAN)
    )
    missing = httpx.get(f"{live_server.url}/api/v1/files/{'0' * 32}", headers=_reader(live_server, engine, LENGSHUITAN))
    assert outside.status_code == 404 and outside.json()["error"]["code"] == "not_found"
    assert outside.json() == missing.json()
    assert PDF not in outside.content
    assert _audit_count(engine, "files.read", stored.id) == 0
    city = httpx.get(
        f"{live_server.url}/api/v1/files/{stored.id}", headers=_reader(live_server, engine, "431100000000")
    )
    assert city.status_code == 200  # the city sees every county


def test_bytes_changed_on_disk_are_refused_and_audited(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou
) -> None:
    content = PDF + b"% unique to this test\n"
    stored = _store(engine, content=content)
    headers = _reader(live_server, engine, LINGLING)
    url = f"{live_server.url}/api/v1/files/{stored.id}"
    assert httpx.get(url, headers=headers).status_code == 200
    tampered = content.replace(b"1 0 obj", b"9 0 obj")
    _blob(stored).write_bytes(tampered)  # same size, other bytes
    refused = httpx.get(url, headers={**headers, "Accept-Language": "en"})
    assert refused.status_code == 500
    assert refused.json()["error"]["code"] == "file_corrupted"
    assert b"9 0 obj" not in refused.content
    assert "damaged" in refused.json()["error"]["message"]
    assert _audit_count(engine, "files.corrupted", stored.id) == 1
    _blob(stored).unlink()  # gone altogether: refused the same way
    assert httpx.get(url, headers=headers).json()["error"]["code"] == "file_corrupted"
    # Storing the same bytes again repairs the blob (content-addressed), and the file reads again.
    _store(engine, content=content)
    assert httpx.get(url, headers=headers).content == content


def test_limits_by_kind_answer_413_and_leave_nothing_behind(engine: Engine) -> None:
    photo_limit = kinds.kinds()["photo"].max_bytes
    assert photo_limit == 10 * 1024 * 1024 and kinds.kinds()["agreement"].max_bytes == 20 * 1024 * 1024
    too_big = b"\xff\xd8\xff\xe0" + b"\0" * photo_limit
    with pytest.raises(AppError) as refused:
        _store(engine, kind="photo", content=too_big, name="big.jpg")
    assert refused.value.status == 413 and refused.value.code == "payload_too_large"
    assert refused.value.zh == "照片过大（上限 10 MB）" and refused.value.en == "Photo too large (limit 10 MB)"
    # A domain may set a narrower limit (matters: CIVICGRID_MATTER_PHOTO_MAX_BYTES).
    with pytest.raises(AppError) as narrower:
        files.check("photo", b"\xff\xd8\xff" + b"\0" * 2048, max_bytes=1024)
    assert narrower.value.status == 413 and narrower.value.details["limit_bytes"] == 1024
    with pytest.raises(AppError) as empty:
        files.check("photo", b"")
    assert empty.value.status == 422
    digest_path = Path(backends.settings().dir) / backends.blob_key(hashlib.sha256(too_big).hexdigest())
    assert not digest_path.exists()


def test_the_type_comes_from_the_bytes_not_the_name(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou
) -> None:
    # An executable renamed .jpg and sent as image/jpeg is refused, over the real upload route.
    place = place_in(yongzhou, "431102", 11)
    reporter = actor(live_server, engine, "grid_worker", place.grid)
    matter = reporter.post("/api/v1/matters", body(place)).json()
    refused = reporter.post(
        f"/api/v1/matters/{matter['id']}/photos",
        files={"file": ("photo.jpg", io.BytesIO(EXE), "image/jpeg")},
        lang="en",
    )
    assert refused.status_code == 415, refused.text
    assert refused.json()["error"]["code"] == "unsupported_media_type"
    assert refused.json()["error"]["message"] == "Only JPEG, PNG or WebP files are accepted for a photo"
    zh = reporter.post(
        f"/api/v1/matters/{matter['id']}/photos", files={"file": ("photo.jpg", io.BytesIO(EXE), "image/jpeg")}
    )
    assert zh.json()["error"]["message"] == "照片只接受 JPEG、PNG 或 WebP 格式"
    # Each kind accepts its own types only: a PNG is no voice message, a PDF is no photo.
    for kind, content in (("voice", png()), ("photo", PDF), ("agreement", b"#!AMR\n" + b"\0" * 20)):
        with pytest.raises(AppError) as wrong:
            files.check(kind, content)
        assert wrong.value.status == 415, kind


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xff\xd8\xff\xe0\0\x10JFIF", "image/jpeg"),
        (png(), "image/png"),
        (b"RIFF\x24\0\0\0WEBPVP8 ", "image/webp"),
        (b"RIFF\x24\0\0\0WAVEfmt ", "audio/wav"),
        (PDF, "application/pdf"),
        (b"#!AMR\n\x3c", "audio/amr"),
        (b"OggS\0\x02", "audio/ogg"),
        (b"\0\0\0\x20ftypM4A \0\0\0\0", "audio/mp4"),
        (b"ID3\x04\0\0\0\0\0\0", "audio/mpeg"),
        (b"\xff\xfb\x90\x64\0\0", "audio/mpeg"),  # an MPEG-1 layer III frame without a tag
        (EXE, None),
        (b"<html><script>alert(1)</script>", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"\xff\xf1\x50\x80", None),  # AAC ADTS: not layer III
    ],
)
def test_sniffing_recognises_each_accepted_type_by_its_magic_bytes(content: bytes, expected: str | None) -> None:
    assert kinds.sniff(content) == expected


@pytest.fixture
def failing_fsync(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The disk fails while the blob is being written (ENOSPC at fsync)."""

    def refuse(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backends.os, "fsync", refuse)
    yield


def test_a_failed_write_leaves_no_partial_file_and_no_row(engine: Engine, failing_fsync: None) -> None:
    content = PDF + b"% written while the disk fails\n"
    digest = hashlib.sha256(content).hexdigest()
    target = Path(backends.settings().dir) / backends.blob_key(digest)
    with transaction(engine, write=False) as session:
        before = int(session.scalar(select(func.count()).select_from(StoredFile)) or 0)
    with pytest.raises(OSError):
        _store(engine, content=content)
    assert not target.exists()
    assert not target.parent.exists() or not any(p.name.endswith(".tmp") for p in target.parent.iterdir())
    with transaction(engine, write=False) as session:
        assert int(session.scalar(select(func.count()).select_from(StoredFile)) or 0) == before


def test_a_crashed_writers_temporary_file_is_never_read(tmp_path: Path) -> None:
    store = backends.FilesystemBackend(tmp_path)
    key = backends.blob_key("ab" * 32)
    leftover = store.path(key).parent / f".{store.path(key).name}.0123.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(PDF[:7])  # half a file, as a killed process leaves it
    with pytest.raises(backends.BlobMissing):
        store.get(key)
    store.put(key, PDF)
    assert store.get(key) == PDF
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")


def test_a_matter_photo_is_read_through_its_matter(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    """The matters domain registers its rule: a photo is readable exactly when its matter is —
    by the reporter too, though the reporter lives in another county — and by no one else there."""
    place = place_in(yongzhou, "431102", 12)
    other = place_in(yongzhou, "431103", 4)
    reporter = actor(live_server, engine, "grid_worker", other.grid)  # reports across the border
    matter = reporter.post("/api/v1/matters", body(place)).json()
    image = png()
    saved = reporter.post(
        f"/api/v1/matters/{matter['id']}/photos",
        files={"file": ("现场.png", io.BytesIO(image), "image/png")},
        data={"stage": "report"},
    )
    assert saved.status_code == 201, saved.text
    photo = saved.json()
    assert photo["url"] == f"/api/v1/files/{photo['file_id']}" and photo["size"] == len(image)
    assert reporter.get(photo["url"]).content == image
    assert reporter.get(f"/api/v1/matters/{matter['id']}/photos/{photo['id']}").content == image
    neighbour = actor(live_server, engine, "village_officer", other.village)  # same county as the reporter
    assert neighbour.get(photo["url"]).status_code == 404
    owner = actor(live_server, engine, "village_officer", place.village)
    assert owner.get(photo["url"]).content == image
    with transaction(engine, write=False) as session:
        stored = session.get(StoredFile, photo["file_id"])
        assert stored is not None
        assert (stored.owner_type, stored.owner_id, stored.kind, stored.division_code) == (
            "matter",
            matter["id"],
            "photo",
            place.village,
        )
        assert stored.file_name == "现场.png"
    # Photos are not personal documents: reading one writes no audit entry.
    assert _audit_count(engine, "files.read", photo["file_id"]) == 0
    # The upload itself is an ORM write, so the chain has its create entry.
    assert _audit_count(engine, "create", photo["file_id"]) == 1


def test_file_names_are_cleaned() -> None:
    assert files.clean_name("C:\\Users\\张三\\协议.pdf") == "协议.pdf"
    assert files.clean_name('../../a"b\x00c.pdf') == "abc.pdf"
    assert files.clean_name("") is None and files.clean_name("///") is None
    assert len(files.clean_name("x" * 500) or "") == 200


def test_the_default_backend_is_a_directory_from_the_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CIVICGRID_FILES_DIR", str(tmp_path))
    backends.settings.cache_clear()
    try:
        chosen = backends.backend()
        assert isinstance(chosen, backends.FilesystemBackend) and chosen.root == tmp_path
        monkeypatch.setenv("CIVICGRID_FILES_BACKEND", "s3")
        monkeypatch.setenv("CIVICGRID_FILES_S3_ENDPOINT", "http://127.0.0.1:9")
        monkeypatch.setenv("CIVICGRID_FILES_S3_BUCKET", "civicgrid")
        backends.settings.cache_clear()
        assert isinstance(backends.backend(), backends.S3Backend)
        assert isinstance(backends.backend("fs"), backends.FilesystemBackend)  # rows keep naming theirs
    finally:
        monkeypatch.undo()
        backends.settings.cache_clear()
    assert os.environ["CIVICGRID_FILES_DIR"] != str(tmp_path)
