"""The S3-compatible backend: its request signing against AWS's published Signature Version 4
examples, and a round trip through a local S3-compatible server (moto's) when one is installed
(``moto_server`` on the PATH, or named by ``CIVICGRID_TEST_MOTO_SERVER``); without one those
tests skip and say so."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from civicgrid.db import transaction
from civicgrid.files import backends
from civicgrid.files import service as files
from tests.conftest import free_port


def test_signature_matches_the_aws_get_vanilla_example() -> None:
    """AWS SigV4 test suite, ``get-vanilla`` (service ``service``, 2015-08-30)."""
    authorization = backends.sigv4_authorization(
        "GET",
        "https://example.amazonaws.com/",
        {"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"},
        backends.EMPTY_SHA256,
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        service="service",
        amz_date="20150830T123600Z",
    )
    assert authorization == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


def test_signature_matches_the_s3_documented_get_object_example() -> None:
    """Amazon S3 API reference, "Signature Calculations for the Authorization Header", example
    GET Object (examplebucket/test.txt, Range bytes=0-9, 2013-05-24)."""
    authorization = backends.sigv4_authorization(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        {
            "Host": "examplebucket.s3.amazonaws.com",
            "Range": "bytes=0-9",
            "x-amz-content-sha256": backends.EMPTY_SHA256,
            "x-amz-date": "20130524T000000Z",
        },
        backends.EMPTY_SHA256,
        access_key="AKIAIOSFODNN7EXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        service="s3",
        amz_date="20130524T000000Z",
    )
    assert authorization.endswith(
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def _moto_server() -> str | None:
    return os.environ.get("CIVICGRID_TEST_MOTO_SERVER") or shutil.which("moto_server")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A local S3-compatible server (moto) on a free port, stopped after the module."""
    program = _moto_server()
    if program is None:
        pytest.skip(
            "no local S3-compatible server (moto_server) installed: the S3 backend is tested for its "
            "request signing only"
        )
    port = free_port()
    process = subprocess.Popen(
        [program, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.skip(f"moto_server ({program}) did not start")
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def _backend(endpoint: str) -> backends.S3Backend:
    store = backends.S3Backend(endpoint, f"civicgrid-{uuid.uuid4().hex[:8]}", "test-key", "test-secret")
    store.create_bucket()
    return store


def test_s3_backend_puts_and_gets_bytes(s3_endpoint: str) -> None:
    store = _backend(s3_endpoint)
    content = os.urandom(100_000)
    key = backends.blob_key("cd" * 32)
    store.put(key, content)
    assert store.get(key) == content
    with pytest.raises(backends.BlobMissing):
        store.get(backends.blob_key("ef" * 32))


def test_the_store_on_s3_refuses_an_object_whose_bytes_changed(
    s3_endpoint: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _backend(s3_endpoint)
    for name, value in {
        "BACKEND": "s3",
        "S3_ENDPOINT": s3_endpoint,
        "S3_BUCKET": store.bucket,
        "S3_ACCESS_KEY": "test-key",
        "S3_SECRET_KEY": "test-secret",
    }.items():
        monkeypatch.setenv(f"CIVICGRID_FILES_{name}", value)
    backends.settings.cache_clear()
    try:
        content = b"%PDF-1.4\n% on S3\n%%EOF\n"
        with transaction(engine) as session:
            stored = files.store(
                session,
                None,
                owner_type="test_case",
                owner_id="s3",
                division_code="431102000000",
                kind="document",
                content=content,
            )
        assert stored.backend == "s3"
        assert files.read_bytes(stored) == content
        store.put(stored.storage_key, content.replace(b"S3", b"XX"))
        with pytest.raises(files.FileCorrupted):
            files.read_bytes(stored)
    finally:
        monkeypatch.undo()
        backends.settings.cache_clear()
