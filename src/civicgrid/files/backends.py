"""Where the bytes of stored files live: a backend behind one small interface.

``FilesystemBackend`` (the default) keeps each blob under a directory, content-addressed
(``ab/cd/<sha256>``), written to a temporary file in the same directory, flushed to disk and
renamed into place, so a crash or a full disk never leaves half a file under a blob's name.
``S3Backend`` puts the same keys into a bucket of an S3-compatible object store (MinIO, Ceph,
a cloud's OSS/COS/S3) with plain HTTP and AWS Signature Version 4 — the scale path when one disk
is no longer enough. An object store makes an object visible only once it is whole.

The metadata (owner, scope, kind, hash) is in the database (``files.models.StoredFile``); a
backend only stores and returns bytes by key. Which one new files go to is
``CIVICGRID_FILES_BACKEND``; each row names the backend that holds its bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import quote, urlsplit

import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict


class FilesSettings(BaseSettings):
    """Options of the file store (``CIVICGRID_FILES_*``; docs/operations.md)."""

    model_config = SettingsConfigDict(env_prefix="CIVICGRID_FILES_", extra="ignore")

    backend: Literal["fs", "s3"] = "fs"
    """Where new files go: ``fs`` (a directory) or ``s3`` (an S3-compatible bucket)."""
    dir: str = "var/files"
    """The directory of the filesystem backend."""
    s3_endpoint: str = ""
    """Base URL of the S3-compatible service, e.g. ``https://minio.internal:9000`` (path-style)."""
    s3_bucket: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_region: str = "us-east-1"
    s3_timeout_seconds: float = 30.0


@lru_cache(maxsize=1)
def settings() -> FilesSettings:
    """Read once per process (tests clear the cache when they change the environment)."""
    return FilesSettings()


class BlobMissing(Exception):
    """The backend has no blob under the key."""


class BackendError(Exception):
    """The backend failed (I/O error, the object store answered an error)."""


class Backend(Protocol):
    """Stores and returns bytes by key. ``put`` is all or nothing: after it returns the blob is
    whole under ``key``; after it raises nothing new is visible under ``key``."""

    name: str

    def put(self, key: str, content: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...


def blob_key(sha256: str) -> str:
    """The content address of a blob: ``ab/cd/abcd…`` (two directory levels keep any one
    directory small: 65,536 leaves)."""
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


# ---------------------------------------------------------------- filesystem


class FilesystemBackend:
    """Blobs as files under ``root``. A write goes to ``.<name>.<random>.tmp`` beside the target,
    is fsynced, renamed over the target (atomic on POSIX) and the directory fsynced, so the name
    only ever points at a whole file. Leftover ``*.tmp`` files of a crashed process are never read
    (no key ends in ``.tmp``)."""

    name = "fs"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            raise ValueError(f"not a blob key: {key!r}")
        return self.root.joinpath(*parts)

    def put(self, key: str, content: bytes) -> None:
        target = self.path(key)
        if target.is_file() and _same_blob(target, content):
            return  # content-addressed: the same bytes are already there, whole
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            try:
                view = memoryview(content)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError as exc:
            raise BlobMissing(key) from exc


def _same_blob(path: Path, content: bytes) -> bool:
    try:
        return path.stat().st_size == len(content) and path.read_bytes() == content
    except OSError:
        return False


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (the directory entry)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename is still atomic
    finally:
        os.close(fd)


# ---------------------------------------------------------------- S3-compatible

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def _canonical_query(query: str) -> str:
    pairs = []
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        pairs.append((quote(name, safe="-_.~"), quote(value, safe="-_.~")))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def sigv4_authorization(
    method: str,
    url: str,
    headers: dict[str, str],
    payload_sha256: str,
    *,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    amz_date: str,
) -> str:
    """The ``Authorization`` header of AWS Signature Version 4 for a request whose every header in
    ``headers`` is signed (``host`` and ``x-amz-date`` must be among them). ``url``'s path is used
    as given (already URI-encoded; S3 does not encode it twice)."""
    parts = urlsplit(url)
    names = sorted(h.lower() for h in headers)
    values = {h.lower(): " ".join(v.strip().split()) for h, v in headers.items()}
    canonical_headers = "".join(f"{n}:{values[n]}\n" for n in names)
    signed = ";".join(names)
    canonical = "\n".join(
        [method.upper(), parts.path or "/", _canonical_query(parts.query), canonical_headers, signed, payload_sha256]
    )
    day = amz_date[:8]
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"


class S3Backend:
    """Blobs as objects of one bucket of an S3-compatible store, addressed path-style
    (``<endpoint>/<bucket>/<key>``), each request signed with SigV4 and the payload's SHA-256
    (the store refuses a body that does not match it)."""

    name = "s3"

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        timeout: float = 30.0,
    ) -> None:
        if not endpoint or not bucket:
            raise ValueError("the S3 backend needs CIVICGRID_FILES_S3_ENDPOINT and CIVICGRID_FILES_S3_BUCKET")
        self.endpoint = endpoint.rstrip("/")
        self.bucket = bucket
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self.client = httpx.Client(timeout=timeout)

    def _url(self, key: str | None) -> str:
        path = f"/{quote(self.bucket, safe='')}"
        if key is not None:
            path += "/" + quote(key, safe="/-_.~")
        return self.endpoint + path

    def _request(self, method: str, key: str | None, content: bytes = b"") -> httpx.Response:
        url = self._url(key)
        payload = hashlib.sha256(content).hexdigest() if content else EMPTY_SHA256
        amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        headers = {"host": urlsplit(url).netloc, "x-amz-date": amz_date, "x-amz-content-sha256": payload}
        if content:
            headers["content-type"] = "application/octet-stream"
        headers["authorization"] = sigv4_authorization(
            method,
            url,
            headers,
            payload,
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            service="s3",
            amz_date=amz_date,
        )
        try:
            return self.client.request(method, url, headers=headers, content=content or None)
        except httpx.HTTPError as exc:
            raise BackendError(f"{method} {url}: {exc}") from exc

    def create_bucket(self) -> None:
        """Create the bucket (setup and tests); an existing bucket of ours is fine."""
        response = self._request("PUT", None)
        if response.status_code not in (200, 409):
            raise BackendError(f"create bucket {self.bucket}: {response.status_code} {response.text[:200]}")

    def put(self, key: str, content: bytes) -> None:
        response = self._request("PUT", key, content)
        if response.status_code != 200:
            raise BackendError(f"PUT {key}: {response.status_code} {response.text[:200]}")

    def get(self, key: str) -> bytes:
        response = self._request("GET", key)
        if response.status_code == 404:
            raise BlobMissing(key)
        if response.status_code != 200:
            raise BackendError(f"GET {key}: {response.status_code} {response.text[:200]}")
        return response.content


# ---------------------------------------------------------------- choosing


def make_backend(name: str, config: FilesSettings | None = None) -> Backend:
    """The backend called ``name`` (``fs`` or ``s3``), configured from the settings."""
    config = config or settings()
    if name == "fs":
        return FilesystemBackend(config.dir)
    if name == "s3":
        return S3Backend(
            config.s3_endpoint,
            config.s3_bucket,
            config.s3_access_key,
            config.s3_secret_key,
            config.s3_region,
            config.s3_timeout_seconds,
        )
    raise ValueError(f"unknown file backend: {name!r}")


_BACKENDS: dict[tuple[str, str], Backend] = {}


def backend(name: str | None = None) -> Backend:
    """The process's backend called ``name`` (default: the one new files go to), made once per
    settings (an S3 backend keeps its connection pool)."""
    config = settings()
    name = name or config.backend
    cache_key = (name, config.model_dump_json())
    found = _BACKENDS.get(cache_key)
    if found is None:
        found = _BACKENDS[cache_key] = make_backend(name, config)
    return found
