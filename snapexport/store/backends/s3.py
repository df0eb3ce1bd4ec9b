"""S3-compatible object storage through obstore (measured against boto3: docs/s3.md).

Endpoint, region and credentials come the way the AWS tools take them: ``AWS_ENDPOINT_URL``
(or ``AWS_ENDPOINT_URL_S3``), ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/
``AWS_SESSION_TOKEN``, ``AWS_REGION``/``AWS_DEFAULT_REGION``, and ``AWS_PROFILE`` with the
shared ``credentials`` and ``config`` files. Any S3-compatible service (MinIO, B2, R2, ...)
works by setting the endpoint.

Transient failures (timeouts, connection resets, 500, 503 SlowDown) are retried with
exponential backoff by the client; uploads are additionally retried as a whole, which is
safe because every object name is written once with the same content. A large pack goes up
as a multipart upload that only becomes visible under its name once complete.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from snapexport.errors import StoreError
from snapexport.store.location import StoreLocation

try:
    import obstore
    from obstore.exceptions import BaseError, NotFoundError
    from obstore.store import S3Store
except ImportError:  # pragma: no cover - exercised without the extra installed
    obstore = None

T = TypeVar("T")

PART_SIZE = 8 << 20  # multipart part size: memory per upload is PART_SIZE x PART_CONCURRENCY
PART_CONCURRENCY = 4
UPLOADS = 4  # packs uploaded at once
SAVE_ATTEMPTS = 3
RETRIES_ENV = "SNAPEXPORT_S3_RETRY_SECONDS"  # how long the client keeps retrying one request


class BackendError(StoreError):
    """The object storage could not be reached or refused a request."""


def _profile_settings() -> dict[str, str]:
    """Keys, region and endpoint of ``AWS_PROFILE`` (or ``default``) from the shared files."""
    profile = os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE") or "default"
    home = Path.home() / ".aws"
    creds = Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / "credentials")
    conf = Path(os.environ.get("AWS_CONFIG_FILE") or home / "config")
    out: dict[str, str] = {}
    for path, section in ((conf, f"profile {profile}" if profile != "default" else "default"),
                          (creds, profile)):  # fmt: skip
        parser = configparser.ConfigParser()
        try:
            parser.read(path)
        except configparser.Error as err:
            raise StoreError(f"cannot read AWS settings {path}: {err}") from err
        if parser.has_section(section):
            out.update(parser.items(section))
    if os.environ.get("AWS_PROFILE") and not out:
        raise StoreError(f"AWS profile {profile!r} is not in {creds} or {conf}")
    return out


def _settings() -> dict[str, Any]:
    env = os.environ
    prof = _profile_settings()
    endpoint = (
        env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or prof.get("endpoint_url")
    )
    region = (
        env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or prof.get("region") or "us-east-1"
    )
    kwargs: dict[str, Any] = {"region": region}
    if endpoint:
        kwargs["endpoint"] = endpoint
    if not env.get("AWS_ACCESS_KEY_ID") and prof.get("aws_access_key_id"):
        kwargs["access_key_id"] = prof["aws_access_key_id"]
        kwargs["secret_access_key"] = prof.get("aws_secret_access_key", "")
        if prof.get("aws_session_token"):
            kwargs["token"] = prof["aws_session_token"]
    return kwargs


class S3Backend:
    """Objects under ``prefix/`` in one bucket."""

    concurrency = UPLOADS

    def __init__(self, location: StoreLocation, store: Any, endpoint: str) -> None:
        self.location = location
        self._store = store
        self._where = f"{location.text} ({endpoint})"

    def __str__(self) -> str:
        return self.location.text

    @classmethod
    def from_location(cls, location: StoreLocation) -> S3Backend:
        if obstore is None:
            raise StoreError("s3:// stores need the S3 client: pip install 'snapexport[s3]'")
        kwargs = _settings()
        endpoint = str(kwargs.get("endpoint", "AWS"))
        seconds = float(os.environ.get(RETRIES_ENV, "30"))
        retry = {
            "max_retries": 8,
            "retry_timeout": timedelta(seconds=seconds),
            "backoff": {
                "init_backoff": timedelta(milliseconds=100),
                "max_backoff": timedelta(seconds=5),
                "base": 2,
            },
        }
        client = {
            "allow_http": endpoint.startswith("http://"),
            "connect_timeout": timedelta(seconds=10),
            "timeout": timedelta(seconds=300),
        }
        try:
            store = S3Store(
                location.bucket,
                prefix=location.prefix or None,
                client_options=client,  # type: ignore[arg-type]
                retry_config=retry,  # type: ignore[arg-type]
                **kwargs,
            )
        except BaseError as err:
            raise BackendError(f"cannot set up S3 client for {location.text}: {err}") from err
        return cls(location, store, endpoint)

    def _call(self, what: str, name: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except NotFoundError:
            raise FileNotFoundError(f"{self.location.text}/{name}") from None
        except BaseError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise BackendError(f"S3 {what} of {name} at {self._where} failed: {first}") from err

    def _retrying(self, what: str, name: str, fn: Callable[[], T]) -> T:
        # The client retries single requests; a whole upload is retried on top, because a
        # timed-out PUT is not retried by the client (it is not a "safe" request).
        for attempt in range(SAVE_ATTEMPTS):
            try:
                return self._call(what, name, fn)
            except BackendError:
                if attempt == SAVE_ATTEMPTS - 1:
                    raise
                time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def save(self, name: str, local_file: Path) -> None:
        def put() -> Any:
            return obstore.put(
                self._store, name, Path(local_file),
                chunk_size=PART_SIZE, max_concurrency=PART_CONCURRENCY,
            )  # fmt: skip

        self._retrying("upload", name, put)
        Path(local_file).unlink(missing_ok=True)

    def save_bytes(self, name: str, data: bytes) -> None:
        self._retrying(
            "upload", name, lambda: obstore.put(self._store, name, data, use_multipart=False)
        )

    def load(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        if length == 0:
            return b""
        if length is None:
            opts: dict[str, Any] = {"range": {"offset": offset}} if offset else {}

            def whole() -> bytes:
                return bytes(obstore.get(self._store, name, options=opts).bytes())  # type: ignore[arg-type]

            return self._call("download", name, whole)
        want = length

        def part() -> bytes:
            return bytes(obstore.get_range(self._store, name, start=offset, length=want))

        try:
            return self._call("download", name, part)
        except BackendError:
            # a range past the end is refused; the contract is "fewer bytes than asked"
            size = self.stat(name)
            if size is None:
                raise FileNotFoundError(f"{self.location.text}/{name}") from None
            if offset + want <= size:
                raise
            want = max(0, size - offset)
            return self._call("download", name, part) if want else b""

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        def listing() -> list[tuple[str, int]]:
            out = []
            folder = prefix.rpartition("/")[0] or None
            for batch in obstore.list(self._store, prefix=folder, chunk_size=1000):
                out.extend((str(m["path"]), int(m["size"])) for m in batch)
            return out

        # obstore lists by path segment; keep only names that really start with prefix
        for name, size in sorted(self._call("list", prefix or "/", listing)):
            if name.startswith(prefix):
                yield name, size

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._call("delete", name, lambda: obstore.delete(self._store, name))

    def stat(self, name: str) -> int | None:
        try:
            meta = self._call("stat", name, lambda: obstore.head(self._store, name))
        except FileNotFoundError:
            return None
        return int(meta["size"])
