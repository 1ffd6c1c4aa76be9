"""One storage root, a local folder or ``s3://bucket/prefix``, addressed by relative keys.

Keys always use ``/``. Writes of single objects are atomic on both backends (local: write aside
then ``os.replace``; S3: a PUT is atomic). Whole folders are published with
:meth:`Storage.replace_prefix`, which the partition protocol in ``partitions.py`` wraps with a
commit marker so that readers never see half a partition.

Work in progress lives under ``_staging/<host>/<pid>-<epoch>-<id>-<purpose>``: the name says
who owns it, so a later process can tell the leftovers of a killed run from live work and sweep
them (``leftovers.py``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import os
import shutil
import socket
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from components.core.config import StorageConfig
from components.core.errors import (
    BadInput,
    MissingInput,
    StorageUnavailable,
    StorageUnreachable,
    TransientError,
)

STAGING = "_staging"
LOCKS = "_locks"  # S3: one object per partition being published (see S3Storage._publishing)
S3_CONNECT_TIMEOUT_S = 3  # an unreachable endpoint fails in seconds, not after minutes
S3_MAX_ATTEMPTS = 2
S3_LOCK_WAIT_S = 300  # how long a publisher waits for another one of the same partition
S3_LOCK_LEASE_S = 900  # a lock older than this was left by a killed publisher
TRASH_SUFFIX = ".trash"  # local folders moved aside by a swap, removed right after it
TEMP_SUFFIX = ".tmp"  # local files being written, renamed into place when whole
PARQUET_COMPRESSION = "zstd"  # of every Parquet file written
# What S3 answers a conditional write that lost: the condition failed, or a concurrent
# conditional write of the same key was in flight.
CONDITION_FAILED = {"PreconditionFailed", "ConditionalRequestConflict", "409"}


class Storage(ABC):
    """Object-store-shaped access to the pipeline's root."""

    @abstractmethod
    def uri(self, key: str) -> str:
        """Location of ``key`` for engines that read paths directly (Spark, pyarrow)."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def create_root(self) -> bool:
        """Make the root (its folder, or its S3 bucket) if it is missing; whether this made it."""

    @abstractmethod
    def root_exists(self) -> bool:
        """Whether the root (its folder, or its S3 bucket) is there."""

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def write_bytes(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def list_keys(self, prefix: str) -> list[str]:
        """All object keys below ``prefix`` (recursive, sorted)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete one object; a missing object is not an error."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None: ...

    @abstractmethod
    def move(self, source: str, target: str) -> None:
        """Rename one object, replacing ``target`` (a copy and a delete on S3)."""

    @abstractmethod
    def list_folders(self, prefix: str) -> list[str]:
        """Names of the immediate sub-folders of ``prefix`` (sorted)."""

    @abstractmethod
    def replace_prefix(self, source: str, target: str) -> None:
        """Make ``target`` hold exactly what ``source`` holds, and remove ``source``.

        The top-level marker objects (names starting with ``_``) of ``source`` arrive last and
        those of ``target`` leave first, so a marker always describes complete contents.
        """

    @abstractmethod
    def read_tagged(self, key: str) -> tuple[bytes, str] | None:
        """The object and a tag that changes whenever the object does; None when absent."""

    @abstractmethod
    def write_if(self, key: str, data: bytes, tag: str | None) -> bool:
        """Write ``key`` only if it still carries ``tag`` (None: only if it does not exist);
        whether it was written. Atomic against every other writer of ``key``: of two writers
        holding the same tag, exactly one succeeds."""

    def staging_key(self, purpose: str) -> str:
        """A fresh, unique prefix for work that is published later, named after its owner."""
        owner = f"{os.getpid()}-{int(time.time())}-{uuid.uuid4().hex[:12]}-{purpose}"
        return f"{STAGING}/{socket.gethostname()}/{owner}"

    @contextlib.contextmanager
    def staging(self, purpose: str) -> Iterator[str]:
        """A fresh staging key whose files are removed if the work fails: a failed job (a full
        disk, bad input) leaves neither a partition nor leftovers holding space."""
        key = self.staging_key(purpose)
        try:
            yield key
        except BaseException:
            self.delete_prefix(key)
            raise

    def read_json(self, key: str) -> Any:
        return json.loads(self.read_bytes(key))

    def write_json(self, key: str, payload: Any) -> None:
        self.write_bytes(key, self.json_bytes(payload))

    def write_parquet(self, key: str, table: pa.Table) -> None:
        self.write_bytes(key, self.parquet_bytes(table))

    @staticmethod
    def json_bytes(payload: Any) -> bytes:
        """How every JSON document is stored: indented, keys sorted."""
        return json.dumps(payload, indent=2, sort_keys=True, default=str).encode()

    @staticmethod
    def parquet_bytes(table: pa.Table) -> bytes:
        """How every Parquet file is stored: zstd-compressed."""
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression=PARQUET_COMPRESSION)
        return buffer.getvalue()

    def read_parquet(self, prefix: str, columns: list[str] | None = None) -> pa.Table:
        """Read one ``*.parquet`` object, or every one below ``prefix``, into one table."""
        keys = [prefix] if prefix.endswith(".parquet") else self.list_keys(prefix)
        keys = [k for k in keys if k.endswith(".parquet")]
        if not keys:
            raise MissingInput(f"no parquet files under {self.uri(prefix)}")
        tables = [pq.read_table(io.BytesIO(self.read_bytes(k)), columns=columns) for k in keys]
        return pa.concat_tables(tables, promote_options="default")

    def write_parquet_parts(self, key: str, schema: pa.Schema, parts: Iterable[pa.Table]) -> int:
        """Write ``parts`` as one Parquet object ``key`` of ``schema``, each part its own row
        groups, as :meth:`write_parquet` compresses them; the rows written. The object holds the
        whole compressed file before it is sent."""
        buffer = io.BytesIO()
        rows = _write_parts(buffer, schema, parts)
        self.write_bytes(key, buffer.getvalue())
        return rows

    def iter_parquet(
        self, key: str, columns: list[str] | None = None, batch_rows: int = 65_536
    ) -> Iterator[pa.RecordBatch]:
        """The Parquet object ``key`` as record batches of at most ``batch_rows`` rows, in file
        order: decoded a batch at a time (the compressed object is held whole)."""
        yield from pq.ParquetFile(io.BytesIO(self.read_bytes(key))).iter_batches(
            batch_size=batch_rows, columns=columns
        )


def _write_parts(sink: io.BytesIO | str, schema: pa.Schema, parts: Iterable[pa.Table]) -> int:
    rows = 0
    with pq.ParquetWriter(sink, schema, compression=PARQUET_COMPRESSION) as writer:
        for part in parts:
            writer.write_table(part)
            rows += part.num_rows
    return rows


class LocalStorage(Storage):
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        if self.root.exists() and not self.root.is_dir():
            raise BadInput(
                f"storage root {self.root} is a file, not a folder; fix storage.root (--root)"
            )

    def _path(self, key: str) -> Path:
        return self.root / key

    def create_root(self) -> bool:
        missing = not self.root.exists()
        self.root.mkdir(parents=True, exist_ok=True)
        return missing

    def root_exists(self) -> bool:
        return self.root.is_dir()

    def uri(self, key: str) -> str:
        return str(self._path(key))

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def read_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def write_bytes(self, key: str, data: bytes) -> None:
        path, tmp = self._write_aside(key)
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def write_parquet_parts(self, key: str, schema: pa.Schema, parts: Iterable[pa.Table]) -> int:
        # Streamed to a file beside the target, renamed into place when whole.
        path, tmp = self._write_aside(key)
        try:
            rows = _write_parts(str(tmp), schema, parts)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
        return rows

    def _write_aside(self, key: str) -> tuple[Path, Path]:
        """``key``'s path (its folder made) and a unique file beside it to write first."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path, path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}{TEMP_SUFFIX}")

    def read_tagged(self, key: str) -> tuple[bytes, str] | None:
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        return data, hashlib.sha256(data).hexdigest()

    def write_if(self, key: str, data: bytes, tag: str | None) -> bool:
        # Conditional writers in one folder take turns on a lock of the folder itself (it
        # leaves no file behind); readers need none, since the write itself is a rename.
        folder = self._path(key).parent
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            current = self.read_tagged(key)
            if (current[1] if current else None) != tag:
                return False
            self.write_bytes(key, data)
            return True
        finally:
            os.close(descriptor)  # releases the lock

    def read_parquet(self, prefix: str, columns: list[str] | None = None) -> pa.Table:
        # Local files are read by path: memory-mapped, no extra copy.
        base = self._path(prefix)
        files = [str(base)] if base.is_file() else sorted(str(p) for p in base.rglob("*.parquet"))
        if not files:
            raise MissingInput(f"no parquet files under {self.uri(prefix)}")
        return pa.concat_tables(
            [pq.read_table(f, columns=columns) for f in files], promote_options="default"
        )

    def iter_parquet(
        self, key: str, columns: list[str] | None = None, batch_rows: int = 65_536
    ) -> Iterator[pa.RecordBatch]:
        # Read by path, memory-mapped: nothing but the batch in hand is held.
        with pq.ParquetFile(self._path(key), memory_map=True) as parquet:
            yield from parquet.iter_batches(batch_size=batch_rows, columns=columns)

    def list_keys(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.exists():
            return []
        # A write in flight is a temp file until its rename: not an object yet, as on S3.
        return sorted(
            str(p.relative_to(self.root))
            for p in base.rglob("*")
            if p.is_file() and not (p.name.startswith(".") and p.name.endswith(TEMP_SUFFIX))
        )

    def list_folders(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)

    def move(self, source: str, target: str) -> None:
        destination = self._path(target)
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._path(source), destination)

    swap_attempts = 8  # each retry means another publisher swapped in between: bounded

    def replace_prefix(self, source: str, target: str) -> None:
        # One rename moves the whole folder, markers included. It only succeeds onto a missing
        # (or empty) target, so the old folder is renamed aside first; a concurrent publisher
        # can swap its own folder in between, in which case that one goes aside too and the
        # rename is tried again. Readers see the old folder, the new one, or briefly none.
        src, dst = self._path(source), self._path(target)
        dst.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(self.swap_attempts):
            try:
                os.rename(src, dst)
                break
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
            trash = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}{TRASH_SUFFIX}")
            with contextlib.suppress(FileNotFoundError):  # another publisher moved it first
                os.rename(dst, trash)
        else:
            raise TransientError(
                f"could not publish {dst}: other writers replaced it {self.swap_attempts} "
                "times in a row; run one publisher per partition"
            )
        # Folders moved aside by this or an earlier (perhaps killed) swap of the same target.
        for leftover in dst.parent.glob(f".{dst.name}.*{TRASH_SUFFIX}"):
            shutil.rmtree(leftover, ignore_errors=True)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _s3_errors(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn the S3 failures a user can fix into :class:`StorageUnavailable` naming the fix."""

    @wraps(method)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        from botocore import exceptions as aws

        self: S3Storage = args[0]  # type: ignore[assignment]
        root = f"storage root {self.root}"
        try:
            return method(*args, **kwargs)
        except (aws.NoCredentialsError, aws.PartialCredentialsError):
            raise StorageUnavailable(
                f"{root}: no S3 credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(or AWS_PROFILE) in the environment"
            ) from None
        except (aws.EndpointConnectionError, aws.ConnectTimeoutError) as exc:
            raise StorageUnreachable(
                f"{root}: cannot reach the S3 endpoint ({exc}); check storage.s3_endpoint_url "
                "(ADAGRPO__STORAGE__S3_ENDPOINT_URL) and that the service is up"
            ) from None
        except aws.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "NoSuchBucket":
                raise StorageUnavailable(
                    f"{root}: bucket {self.bucket!r} does not exist; create it or fix "
                    "storage.root (--root, ADAGRPO__STORAGE__ROOT)"
                ) from None
            if code in {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
                raise StorageUnavailable(
                    f"{root}: the S3 credentials were refused ({code}); check "
                    "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket's policy"
                ) from None
            raise

    return call


class S3Storage(Storage):
    def __init__(self, url: str, endpoint_url: str | None = None, region: str | None = None):
        import boto3  # imported here: DAG parsing and local runs never pay for it
        from botocore.config import Config

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise BadInput(f"S3 root {url!r} names no bucket")
        self.root, self.bucket, self.prefix = url, bucket, prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(
                connect_timeout=S3_CONNECT_TIMEOUT_S,
                retries={"max_attempts": S3_MAX_ATTEMPTS, "mode": "standard"},
            ),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    @_s3_errors
    def root_exists(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {"404", "NoSuchBucket", "NotFound"}:
                raise
            return False

    @_s3_errors
    def create_root(self) -> bool:
        if self.root_exists():
            return False
        region = self.client.meta.region_name
        if region in (None, "us-east-1"):  # S3's default region takes no location
            self.client.create_bucket(Bucket=self.bucket)
        else:
            location = {"LocationConstraint": region}
            self.client.create_bucket(Bucket=self.bucket, CreateBucketConfiguration=location)
        return True

    def uri(self, key: str) -> str:
        return f"s3a://{self.bucket}/{self._key(key)}"

    def object_url(self, key: str) -> str:
        """``key`` as boto3 and fsspec name it (``s3://``), where Spark's Hadoop says ``s3a://``."""
        return f"s3://{self.bucket}/{self._key(key)}"

    @_s3_errors
    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
                return bool(self.list_keys(key))  # a "folder" exists if anything is under it
            raise
        return True

    @_s3_errors
    def read_bytes(self, key: str) -> bytes:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(f"no object {self.uri(key)}") from None
        return bytes(body.read())

    @_s3_errors
    def write_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    @_s3_errors
    def read_tagged(self, key: str) -> tuple[bytes, str] | None:
        try:
            found = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey:
            return None
        return bytes(found["Body"].read()), str(found["ETag"])

    @_s3_errors
    def write_if(self, key: str, data: bytes, tag: str | None) -> bool:
        from botocore.exceptions import ClientError

        # S3's conditional writes: If-None-Match creates, If-Match on the ETag replaces.
        condition = {"IfNoneMatch": "*"} if tag is None else {"IfMatch": tag}
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **condition)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in CONDITION_FAILED:
                return False
            raise
        return True

    @_s3_errors
    def list_keys(self, prefix: str) -> list[str]:
        full = self._key(prefix).rstrip("/") + "/"
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=full
        ):
            keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        return sorted(keys)

    @_s3_errors
    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    @_s3_errors
    def list_folders(self, prefix: str) -> list[str]:
        full = self._key(prefix).rstrip("/") + "/"
        names: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=full, Delimiter="/"
        ):
            names.extend(
                p["Prefix"][len(full) :].rstrip("/") for p in page.get("CommonPrefixes", [])
            )
        return sorted(names)

    @_s3_errors
    def delete_prefix(self, prefix: str) -> None:
        self._delete_keys(self.list_keys(prefix))

    @_s3_errors
    def move(self, source: str, target: str) -> None:
        self.client.copy_object(
            Bucket=self.bucket,
            Key=self._key(target),
            CopySource={"Bucket": self.bucket, "Key": self._key(source)},
        )
        self.client.delete_object(Bucket=self.bucket, Key=self._key(source))

    def _delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # the API's batch limit
            batch = [{"Key": self._key(k)} for k in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})

    @_s3_errors
    def replace_prefix(self, source: str, target: str) -> None:
        # S3 cannot rename: copy, with the markers (see the base class) leaving first and
        # arriving last, one publisher of a target at a time.
        source, target = source.rstrip("/"), target.rstrip("/")
        with self._publishing(target):
            self._copy_over(source, target)

    def _copy_over(self, source: str, target: str) -> None:
        old = self.list_keys(target)
        self._delete_keys([key for key in old if _is_marker(key, target)])
        self._delete_keys([key for key in old if not _is_marker(key, target)])
        keys = self.list_keys(source)
        for key in sorted(keys, key=lambda k: _is_marker(k, source)):
            self.client.copy_object(
                Bucket=self.bucket,
                Key=self._key(f"{target}/{key[len(source) + 1 :]}"),
                CopySource={"Bucket": self.bucket, "Key": self._key(key)},
            )
        self._delete_keys(keys)

    @contextlib.contextmanager
    def _publishing(self, target: str) -> Iterator[None]:
        """Hold the publish lock of ``target``: an object created only if absent (a conditional
        PUT, atomic on S3), so that two publishers never interleave their copies. A lock older
        than the lease belongs to a killed publisher and is taken over."""
        from botocore.exceptions import ClientError

        lock = self._key(f"{LOCKS}/{target}")
        owner = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}".encode()
        deadline, pause = time.monotonic() + S3_LOCK_WAIT_S, 0.05
        while True:
            try:
                self.client.put_object(Bucket=self.bucket, Key=lock, Body=owner, IfNoneMatch="*")
                break
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in CONDITION_FAILED:
                    raise
            try:
                held = self.client.head_object(Bucket=self.bucket, Key=lock)["LastModified"]
            except ClientError:
                continue  # released in between: try again at once
            if time.time() - held.timestamp() > S3_LOCK_LEASE_S:
                self.client.delete_object(Bucket=self.bucket, Key=lock)
            elif time.monotonic() > deadline:
                raise StorageUnavailable(
                    f"{self.uri(target)} has been locked by another publisher for over "
                    f"{S3_LOCK_WAIT_S} s; if none runs, delete {self.uri(f'{LOCKS}/{target}')}"
                )
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
        try:
            yield
        finally:
            self.client.delete_object(Bucket=self.bucket, Key=lock)


def _is_marker(key: str, prefix: str) -> bool:
    """Whether ``key`` is a top-level marker object (``_...``) of ``prefix``."""
    relative = key[len(prefix) + 1 :]
    return "/" not in relative and relative.startswith("_")


def open_storage(config: StorageConfig) -> Storage:
    """The storage backend named by ``config.root``."""
    if config.root.startswith("s3://"):
        return S3Storage(config.root, config.s3_endpoint_url, config.s3_region)
    return LocalStorage(config.root)
