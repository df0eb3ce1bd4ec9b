"""Fixtures for copy, config and run: a demo site on disk, stores, a loopback S3 server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sitetools import copy_site, generate, new_store

DOCS = 24


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("template") / "site"
    generate("create", folder, "--documents", str(DOCS), "--seed", "11")
    return folder


@pytest.fixture
def site(template: Path, tmp_path: Path) -> Path:
    return copy_site(template, tmp_path / "site")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return new_store(tmp_path / "store")


@pytest.fixture(scope="session")
def moto() -> Iterator[object]:
    """moto's S3 server on 127.0.0.1 (one per session), as tests/store/s3 runs it."""
    pytest.importorskip("obstore")
    pytest.importorskip("moto")
    from tests.store.s3.conftest import S3Server

    server = S3Server()
    server.start()
    yield server
    server.stop()


_buckets = iter(range(1_000_000))


@pytest.fixture
def s3(moto: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """AWS variables for the loopback server, a fresh bucket, a private cache folder."""
    bucket = f"night-{os.getpid()}-{next(_buckets)}"
    moto.make_bucket(bucket)  # type: ignore[attr-defined]
    env = {
        "AWS_ENDPOINT_URL": moto.endpoint,  # type: ignore[attr-defined]
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SNAPEXPORT_CACHE_DIR": str(tmp_path / "cache"),
        "SNAPEXPORT_S3_RETRY_SECONDS": "3",
        "SNAPEXPORT_SCRYPT_N": "1024",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return {**env, "BUCKET": bucket, "STORE": f"s3://{bucket}/copy"}
