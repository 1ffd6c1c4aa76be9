"""Storage backends (local folder and a real S3 endpoint) and the partition publish protocol."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pytest

from components.core import partitions
from components.core.config import StorageConfig
from components.core.storage import LocalStorage, S3Storage, Storage, open_storage


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return open_storage(StorageConfig(root=str(tmp_path)))
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"test-{uuid.uuid4().hex[:8]}"
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return open_storage(StorageConfig(root=f"s3://{bucket}/pipeline", s3_endpoint_url=endpoint))


def test_open_storage_picks_backend(tmp_path: Path) -> None:
    assert isinstance(open_storage(StorageConfig(root=str(tmp_path))), LocalStorage)
    config = StorageConfig(root="s3://bucket/prefix", s3_endpoint_url="http://127.0.0.1:1")
    s3 = open_storage(config)
    assert isinstance(s3, S3Storage)
    assert s3.uri("raw/x") == "s3a://bucket/prefix/raw/x"


def test_bytes_json_and_listing(storage: Storage) -> None:
    storage.write_bytes("a/b/one.bin", b"1")
    storage.write_json("a/two.json", {"k": [1, 2]})

    assert storage.read_bytes("a/b/one.bin") == b"1"
    assert storage.read_json("a/two.json") == {"k": [1, 2]}
    assert storage.list_keys("a") == ["a/b/one.bin", "a/two.json"]
    assert storage.exists("a/b/one.bin") and storage.exists("a")
    assert not storage.exists("missing")
    with pytest.raises(FileNotFoundError):
        storage.read_bytes("missing.bin")

    storage.delete("a/two.json")
    storage.delete("a/two.json")  # deleting twice is fine
    assert storage.list_keys("a") == ["a/b/one.bin"]


def test_move_renames_one_object_over_any_old_one(storage: Storage) -> None:
    storage.write_bytes("a/old.bin", b"new")
    storage.write_bytes("b/kept.bin", b"stale")

    storage.move("a/old.bin", "b/kept.bin")

    assert storage.read_bytes("b/kept.bin") == b"new"
    assert not storage.exists("a/old.bin")


def test_parquet_round_trip(storage: Storage) -> None:
    table = pa.table({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    storage.write_parquet("t/part-0.parquet", table.slice(0, 2))
    storage.write_parquet("t/part-1.parquet", table.slice(2))

    assert storage.read_parquet("t").equals(table)
    assert storage.read_parquet("t/part-1.parquet").equals(table.slice(2))
    assert storage.read_parquet("t", columns=["y"]).column_names == ["y"]
    with pytest.raises(FileNotFoundError, match="no parquet files"):
        storage.read_parquet("nothing")


def test_parquet_written_in_parts_streams_back_in_batches(storage: Storage) -> None:
    table = pa.table({"x": list(range(10)), "y": [str(i) for i in range(10)]})
    parts = (table.slice(start, 4) for start in range(0, 10, 4))

    assert storage.write_parquet_parts("t/parts.parquet", table.schema, parts) == 10

    assert storage.read_parquet("t/parts.parquet").equals(table)
    batches = list(storage.iter_parquet("t/parts.parquet", columns=["x"], batch_rows=3))
    assert [len(batch) for batch in batches] == [3, 3, 3, 1]
    assert pa.Table.from_batches(batches).equals(table.select(["x"]))


def test_a_failed_part_leaves_no_parquet_object(storage: Storage) -> None:
    table = pa.table({"x": [1, 2]})

    def parts() -> Iterator[pa.Table]:
        yield table
        raise OSError("no space left on device")

    with pytest.raises(OSError, match="no space"):
        storage.write_parquet_parts("t/broken.parquet", table.schema, parts())
    assert storage.list_keys("t") == []


def test_publish_replaces_whole_partition(storage: Storage) -> None:
    old = storage.staging_key("t")
    storage.write_bytes(f"{old}/part-0.parquet", b"old0")
    storage.write_bytes(f"{old}/part-1.parquet", b"old1")
    partitions.publish(storage, old, "ds/dt=2026-11-01", {"rows": 2})

    new = storage.staging_key("t")
    storage.write_bytes(f"{new}/part-0.parquet", b"new0")
    partitions.publish(storage, new, "ds/dt=2026-11-01", {"rows": 1})

    manifest = partitions.read_manifest(storage, "ds/dt=2026-11-01")
    assert manifest["rows"] == 1 and manifest["files"] == ["part-0.parquet"]
    assert storage.list_keys("ds") == [
        "ds/dt=2026-11-01/_MANIFEST.json",
        "ds/dt=2026-11-01/part-0.parquet",
    ]
    assert storage.read_bytes("ds/dt=2026-11-01/part-0.parquet") == b"new0"
    assert not storage.list_keys("_staging")


def test_unpublished_partition_is_refused(storage: Storage) -> None:
    storage.write_bytes("ds/dt=2026-11-01/part-0.parquet", b"half written")

    assert not partitions.is_published(storage, "ds/dt=2026-11-01")
    with pytest.raises(partitions.PartitionNotPublished, match="dt=2026-11-01"):
        partitions.read_manifest(storage, "ds/dt=2026-11-01")


def test_s3_root_without_bucket_is_rejected() -> None:
    with pytest.raises(ValueError, match="names no bucket"):
        open_storage(StorageConfig(root="s3://"))


def test_conditional_writes_create_once_and_replace_only_the_version_read(
    storage: Storage,
) -> None:
    assert storage.read_tagged("doc.json") is None
    assert storage.write_if("doc.json", b"first", None)
    assert not storage.write_if("doc.json", b"again", None)  # it exists now

    data, tag = storage.read_tagged("doc.json") or (b"", "")
    assert data == b"first"
    assert storage.write_if("doc.json", b"second", tag)
    assert not storage.write_if("doc.json", b"stale", tag)  # the tag read before the change
    assert storage.read_bytes("doc.json") == b"second"
    assert storage.list_keys("") == ["doc.json"]  # nothing left beside it


def test_of_racing_conditional_writers_exactly_one_wins(storage: Storage) -> None:
    storage.write_bytes("counter", b"start")
    _, tag = storage.read_tagged("counter") or (b"", "")
    with ThreadPoolExecutor(max_workers=8) as pool:
        won = list(pool.map(lambda i: storage.write_if("counter", f"{i}".encode(), tag), range(8)))

    assert won.count(True) == 1
    assert storage.read_bytes("counter") == str(won.index(True)).encode()


def test_a_local_write_in_flight_is_not_listed(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.write_bytes("claims/1", b"")
    (tmp_path / "claims" / ".2.0123abcd.tmp").write_bytes(b"half")  # another writer's temp

    assert storage.list_keys("claims") == ["claims/1"]


def test_creating_a_root_makes_it_once(storage: Storage) -> None:
    """The fixture's root exists already (its bucket or folder); a new one is made, then kept."""
    assert storage.create_root() is False
    if isinstance(storage, S3Storage):
        fresh: Storage = S3Storage(
            f"s3://fresh-{uuid.uuid4().hex[:8]}/models", storage.endpoint_url
        )
    else:
        fresh = LocalStorage(Path(storage.uri("fresh")))
    assert fresh.create_root() is True
    assert fresh.create_root() is False
    fresh.write_json("index.json", {"ok": True})
    assert fresh.read_json("index.json") == {"ok": True}
