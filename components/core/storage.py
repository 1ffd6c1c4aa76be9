"""One storage root, a local folder or ``s3://bucket/prefix``, addressed by relative keys.

Keys always use ``/``. Writes of single objects are atomic on both backends (local: write aside
then ``os.replace``; S3: a PUT is atomic). Whole folders are published with
:meth:`Storage.replace_prefix`, which the partition protocol in ``partitions.py`` wraps with a
commit marker so that readers never see half a partition.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from components.core.config import StorageConfig


class Storage(ABC):
    """Object-store-shaped access to the pipeline's root."""

    @abstractmethod
    def uri(self, key: str) -> str:
        """Location of ``key`` for engines that read paths directly (Spark, pyarrow)."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

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
    def replace_prefix(self, source: str, target: str) -> None:
        """Make ``target`` hold exactly what ``source`` holds, and remove ``source``."""

    def staging_key(self, purpose: str) -> str:
        """A fresh, unique prefix for work that is published later."""
        return f"_staging/{purpose}-{uuid.uuid4().hex[:12]}"

    def read_json(self, key: str) -> Any:
        return json.loads(self.read_bytes(key))

    def write_json(self, key: str, payload: Any) -> None:
        self.write_bytes(key, json.dumps(payload, indent=2, sort_keys=True, default=str).encode())

    def write_parquet(self, key: str, table: pa.Table) -> None:
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        self.write_bytes(key, buffer.getvalue())

    def read_parquet(self, prefix: str, columns: list[str] | None = None) -> pa.Table:
        """Read one ``*.parquet`` object, or every one below ``prefix``, into one table."""
        keys = [prefix] if prefix.endswith(".parquet") else self.list_keys(prefix)
        keys = [k for k in keys if k.endswith(".parquet")]
        if not keys:
            raise FileNotFoundError(f"no parquet files under {self.uri(prefix)}")
        tables = [pq.read_table(io.BytesIO(self.read_bytes(k)), columns=columns) for k in keys]
        return pa.concat_tables(tables, promote_options="default")


class LocalStorage(Storage):
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def _path(self, key: str) -> Path:
        return self.root / key

    def uri(self, key: str) -> str:
        return str(self._path(key))

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def read_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def write_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def read_parquet(self, prefix: str, columns: list[str] | None = None) -> pa.Table:
        # Local files are read by path: memory-mapped, no extra copy.
        base = self._path(prefix)
        files = [str(base)] if base.is_file() else sorted(str(p) for p in base.rglob("*.parquet"))
        if not files:
            raise FileNotFoundError(f"no parquet files under {self.uri(prefix)}")
        return pa.concat_tables(
            [pq.read_table(f, columns=columns) for f in files], promote_options="default"
        )

    def list_keys(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file())

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)

    def replace_prefix(self, source: str, target: str) -> None:
        src, dst = self._path(source), self._path(target)
        dst.parent.mkdir(parents=True, exist_ok=True)
        trash = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.trash")
        if dst.exists():
            os.rename(dst, trash)  # two renames: readers see the old or the new folder
        os.rename(src, dst)
        shutil.rmtree(trash, ignore_errors=True)


class S3Storage(Storage):
    def __init__(self, url: str, endpoint_url: str | None = None, region: str | None = None):
        import boto3  # imported here: DAG parsing and local runs never pay for it

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"S3 root {url!r} names no bucket")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3a://{self.bucket}/{self._key(key)}"

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
                return bool(self.list_keys(key))  # a "folder" exists if anything is under it
            raise
        return True

    def read_bytes(self, key: str) -> bytes:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(f"no object {self.uri(key)}") from None
        return bytes(body.read())

    def write_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def list_keys(self, prefix: str) -> list[str]:
        full = self._key(prefix).rstrip("/") + "/"
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=full
        ):
            keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        return sorted(keys)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def delete_prefix(self, prefix: str) -> None:
        keys = self.list_keys(prefix)
        for start in range(0, len(keys), 1000):  # the API's batch limit
            batch = [{"Key": self._key(k)} for k in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})

    def replace_prefix(self, source: str, target: str) -> None:
        self.delete_prefix(target)
        for key in self.list_keys(source):
            relative = key[len(source.rstrip("/")) + 1 :]
            self.client.copy_object(
                Bucket=self.bucket,
                Key=self._key(f"{target}/{relative}"),
                CopySource={"Bucket": self.bucket, "Key": self._key(key)},
            )
        self.delete_prefix(source)


def open_storage(config: StorageConfig) -> Storage:
    """The storage backend named by ``config.root``."""
    if config.root.startswith("s3://"):
        return S3Storage(config.root, config.s3_endpoint_url, config.s3_region)
    return LocalStorage(config.root)
