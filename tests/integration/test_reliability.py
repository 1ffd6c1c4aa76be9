"""Probes of a hostile but fair user: bad arguments, stages out of order, malformed input,
unusable storage, kills, corruptions and concurrent publishers. Each must end in one clear line
that names the problem and its fix (exit 2), or leave exactly one complete partition behind;
never a traceback, never a lost or half-visible output.

The kill-and-resume probes of training and the corruption probes of checkpoints live beside the
code they exercise (``test_train_policy.py``, ``test_evaluate.py``, ``tests/unit/test_trainer.py``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from components.core import leftovers, partitions
from components.core.config import StorageConfig
from components.core.errors import EXIT_BAD_INPUT, EXIT_TRANSIENT
from components.core.storage import STAGING, LocalStorage, Storage, open_storage
from tests.factories import at, exposure, publish_catalog, publish_raw_day

REPO = Path(__file__).resolve().parents[2]
DS = "2026-11-03"
TARGET = f"curated/exposures/dt={DS}"


def adagrpo(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ADAGRPO", "AWS_"))}
    return subprocess.run(
        [sys.executable, "-m", "components.cli", *args],
        cwd=REPO,
        env={**clean, "OMP_NUM_THREADS": "1", "AWS_EC2_METADATA_DISABLED": "true", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def refused(
    result: subprocess.CompletedProcess[str], *fragments: str, exit_code: int = EXIT_BAD_INPUT
) -> None:
    """``exit_code`` with every fragment in the error and no traceback."""
    assert result.returncode == exit_code, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr[-3000:])


# -- bad arguments and configuration ----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["train", "--ds", "2026-13-01"], ["'2026-13-01' is not a date YYYY-MM-DD"]),
        (["validate", "--ds", DS, "--lookback-days", "0"], ["'0' is not a positive integer"]),
        (["train", "--ds", DS, "--method", "sft"], ["invalid choice: 'sft'"]),
        (["gc", "--older-than", "-1"], ["'-1' is not a number of hours >= 0"]),
        (["config", "--set", "train.epochs"], ["must look like section.key=value"]),
        (["config", "--set", "train.epochs=0"], ["train.epochs", "greater than or equal to 1"]),
        (["config", "--set", "train.epoch=3"], ["train.epoch", "Extra inputs"]),
        (["config", "--set", "train.epochs=[1"], ["--set train.epochs=[1, line 1: not valid"]),
        (["config", "--config", "missing.yaml"], ["config file not found: missing.yaml"]),
    ],
)
def test_bad_arguments_are_one_line_naming_the_value(args: list[str], fragments: list[str]) -> None:
    refused(adagrpo(*args), *fragments)


def test_malformed_yaml_in_a_config_file_names_the_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("train:\n  epochs: 3\n  batch_size: [64\nstorage: {}\n")
    refused(adagrpo("config", "--config", str(config)), f"config file {config}, line 4")

    config.write_text("- a list\n- not a mapping\n")
    refused(adagrpo("config", "--config", str(config)), "must hold a mapping, got list")


def test_malformed_yaml_in_an_environment_variable_names_the_variable() -> None:
    result = adagrpo("config", env={"ADAGRPO__TRAIN__EPOCHS": "{3"})
    refused(result, "environment variable ADAGRPO__TRAIN__EPOCHS, line 1: not valid YAML")


# -- ids that would escape their folder, numbers out of range ---------------------------------

UNSAFE_ID = "may hold only letters, digits and . _ = , + - (no '/', no '..')"


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ["ab-readout", "--ds", DS, "--experiment", "../aliases"],
            [f"the experiment id '../aliases' {UNSAFE_ID}"],
        ),
        (
            ["registry", "put-up", "--ds", DS, "--run", "/etc/passwd", "--reason", "probe"],
            [f"the run key '/etc/passwd' {UNSAFE_ID}"],
        ),
        (["registry", "show", "0"], ["'0' is not a positive integer"]),
        (["extract", "--ds", "1970-01-02", "--lookback-days", "5"], ["begin before 1970-01-01"]),
        (["extract", "--ds", DS, "--lookback-days", "3661"], ["3661 days is more than 3660"]),
        (["config", "--set", "rl.learning_rate=nan"], ["rl.learning_rate", "finite number"]),
        (["config", "--set", "train.grad_clip=inf"], ["train.grad_clip", "finite number"]),
    ],
)
def test_an_unsafe_id_or_a_number_out_of_range_is_one_line_naming_it(
    tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    root, registry = tmp_path / "root", tmp_path / "registry"
    stage, rest = args[0], args[1:]
    if stage == "registry":
        result = adagrpo(stage, "--root", str(root), "--registry", str(registry), *rest)
    else:
        result = adagrpo(stage, "--root", str(root), *rest)
    refused(result, *fragments)
    assert not root.exists() and not registry.exists()


# -- a registry used by hand ------------------------------------------------------------------


def test_a_registry_root_that_does_not_exist_is_refused_by_every_reader(tmp_path: Path) -> None:
    missing = str(tmp_path / "registyr")  # a typo
    for args in (
        ["registry", "--registry", missing, "list"],
        ["serve", "--registry", missing, "--port", "0"],
    ):
        refused(adagrpo(*args), f"there is no registry at {missing}", "adagrpo registry init")
    assert not Path(missing).exists()


def test_an_empty_alias_document_is_named_and_nothing_is_read_or_moved(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "aliases.json").write_text("{}")

    result = adagrpo("registry", "--registry", str(registry), "list")
    refused(
        result, f"{registry}/aliases.json is not an alias document", "no alias was read or moved"
    )
    assert (registry / "aliases.json").read_text() == "{}"


# -- the service, as a client finds it -------------------------------------------------------


def test_the_service_answers_bad_requests_422_naming_the_field_before_any_model(
    tmp_path: Path,
) -> None:
    import httpx

    registry = str(tmp_path / "registry")
    assert adagrpo("registry", "--registry", registry, "init").returncode == 0
    command = [sys.executable, "-m", "components.cli", "serve", "--registry", registry]
    service = subprocess.Popen([*command, "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert service.stdout is not None
        url = service.stdout.readline().split()[-1]  # "serving on URL", once it listens
        good = {"user_id": 1, "history": [3], "k": 3}
        for field, value in [("user_id", 2**63), ("history", [True]), ("k", 0)]:
            response = httpx.post(f"{url}/recommend", json={**good, field: value}, timeout=30)
            assert response.status_code == 422
            assert field in json.dumps(response.json()["detail"])
        garbled = httpx.post(f"{url}/recommend", content=b'{"user_id": NaN', timeout=30)
        assert garbled.status_code == 422
        ready = httpx.get(f"{url}/readyz", timeout=30)
        assert ready.status_code == 503 and "champion" in json.dumps(ready.json())
    finally:
        service.terminate()
        service.wait(timeout=30)


# -- stages out of order ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "producer"),
    [
        (["extract", "--ds", DS], "raw logs have not landed: wait for them, or run `adagrpo sim"),
        (["train-ranker", "--ds", DS], f"`adagrpo features --ds {DS}` first"),
        (["build-dataset", "--ds", DS], f"run `adagrpo extract --ds {DS}` and `adagrpo val"),
        (["train", "--ds", DS], f"run `adagrpo build-dataset --ds {DS}` first"),
        (["evaluate", "--ds", DS], f"`adagrpo train --ds {DS} --method nll` first"),
    ],
)
def test_a_stage_before_its_input_names_the_stage_to_run(
    tmp_path: Path, stage: list[str], producer: str
) -> None:
    refused(adagrpo(*stage, "--root", str(tmp_path / "empty")), producer)


def test_a_root_that_is_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    refused(adagrpo("gc", "--root", str(tmp_path / "a-file")), "a-file is a file, not a folder")


# -- replay input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sequences", "items", "fragment"),
    [
        ("1 1 2 3\n", "item_id\tasin\ttitle\n", "items.tsv:1: no items"),
        ("1 1 2 3\n", "", "items.tsv:1: no items"),
        ("1 1 -2 3\n", "item_id\tasin\ttitle\n1\tA\ta\n", "seq.txt:1: expected non-negative"),
    ],
)
def test_replay_refuses_input_it_cannot_use(
    tmp_path: Path, sequences: str, items: str, fragment: str
) -> None:
    (tmp_path / "seq.txt").write_text(sequences)
    (tmp_path / "items.tsv").write_text(items)
    root = tmp_path / "root"
    result = adagrpo(
        *("replay", "--root", str(root), "--start", DS),
        *("--sequences", str(tmp_path / "seq.txt"), "--items", str(tmp_path / "items.tsv")),
    )
    refused(result, fragment)
    assert not root.exists() or not any(root.rglob("_MANIFEST.json"))


# -- storage that cannot be used --------------------------------------------------------------

# Failing fast means no retries with backoff: botocore's default would take minutes (connect
# timeouts of 60 s, retried). The bound leaves room for a busy machine's process start-up.
FAST_S = 120


def test_s3_without_credentials_fails_fast_naming_the_variables(s3_endpoint: str) -> None:
    started = time.monotonic()
    result = adagrpo(
        *("gc", "--root", "s3://bucket/lake", "--set", f"storage.s3_endpoint_url={s3_endpoint}"),
        env={"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"},
    )
    refused(result, "storage root s3://bucket/lake", "AWS_ACCESS_KEY_ID")
    assert time.monotonic() - started < FAST_S


def test_an_unreachable_s3_endpoint_fails_fast_naming_the_setting() -> None:
    started = time.monotonic()
    result = adagrpo(
        *(
            "gc",
            "--root",
            "s3://bucket/lake",
            "--set",
            "storage.s3_endpoint_url=http://127.0.0.1:9",
        ),
        env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"},
    )
    # Worth retrying (the service may be back later), unlike a bad setting.
    refused(
        result,
        "cannot reach the S3 endpoint",
        "storage.s3_endpoint_url",
        "transient",
        exit_code=EXIT_TRANSIENT,
    )
    assert time.monotonic() - started < FAST_S


def test_a_missing_bucket_is_named(s3_endpoint: str) -> None:
    result = adagrpo(
        *("train-ranker", "--ds", DS, "--root", "s3://no-such-bucket/lake"),
        *("--set", f"storage.s3_endpoint_url={s3_endpoint}"),
        env={"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"},
    )
    refused(result, "bucket 'no-such-bucket' does not exist", "storage.root")


# -- Spark's own failures --------------------------------------------------------------------


def raw_shop(root: Path, events: int, retype: dict[str, pa.DataType] | None = None) -> None:
    """A catalog and one raw day of ``events`` exposures, some columns stored as ``retype``."""
    storage, day = LocalStorage(root), date.fromisoformat(DS)
    publish_catalog(storage, day, item_ids=[1, 2])
    rows = [exposure(event, at(day, 8), item_id=1 + event % 2) for event in range(events)]
    publish_raw_day(storage, day, rows, retype)


def extract(root: Path) -> subprocess.CompletedProcess[str]:
    return adagrpo("extract", "--root", str(root), "--ds", DS, "--lookback-days", "1")


def assert_nothing_published_or_left(root: Path) -> None:
    assert not (root / TARGET).exists()
    assert not [path for path in (root / STAGING).rglob("*") if path.is_file()]


def assert_no_java_trace(result: subprocess.CompletedProcess[str]) -> None:
    assert "\tat org.apache" not in result.stderr, result.stderr[-3000:]


@pytest.mark.spark
def test_a_raw_column_of_another_type_is_one_line_and_the_fixed_rerun_succeeds(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    raw_shop(root, events=3, retype={"user_id": pa.string()})

    result = extract(root)
    refused(
        result,
        f"{root}/raw/exposures/dt={DS}/part-00000.parquet: column user_id is stored as BINARY, "
        "the contract says bigint",
    )
    assert_no_java_trace(result)
    assert_nothing_published_or_left(root)

    raw_shop(root, events=3)  # the producer fixed, the partition published again
    assert extract(root).returncode == 0
    assert partitions.read_manifest(LocalStorage(root), TARGET)["rows"] == 3


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs: a device that a test can fill (mounting needs root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.spark
def test_a_full_disk_during_extract_names_the_device_and_the_rerun_succeeds(
    small_disk: Path,
) -> None:
    root = small_disk / "root"
    raw_shop(root, events=500)
    filler = small_disk / "filler"
    disk = os.statvfs(small_disk)
    with filler.open("wb") as handle:  # all but 4 KiB: the raw logs fit, the curated do not
        os.posix_fallocate(handle.fileno(), 0, disk.f_bavail * disk.f_frsize - 4096)

    result = extract(root)
    refused(
        result,
        f"extract: No space left on device: {small_disk} has",
        "nothing was published",
        "transient: retrying may succeed",
        exit_code=EXIT_TRANSIENT,  # space may be freed: the orchestrator retries later
    )
    assert_no_java_trace(result)
    assert_nothing_published_or_left(root)

    filler.unlink()
    assert extract(root).returncode == 0
    assert partitions.read_manifest(LocalStorage(root), TARGET)["rows"] == 500


# -- concurrent publishers --------------------------------------------------------------------


def s3_storage(endpoint: str) -> Storage:
    import boto3

    bucket = f"probe-{os.getpid()}-{time.monotonic_ns()}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return open_storage(StorageConfig(root=f"s3://{bucket}/lake", s3_endpoint_url=endpoint))


def publish_as(storage: Storage, writer: str, parts: int = 3) -> None:
    """A partition whose every file and manifest names its writer."""
    files: dict[str, Any] = {f"part-{i}.json": {"writer": writer} for i in range(parts)}
    partitions.publish_files(storage, TARGET, files, {"writer": writer})


def assert_one_complete_partition(storage: Storage) -> str:
    """The partition holds exactly what its manifest lists, all from one writer; that writer."""
    manifest = partitions.verify_files(storage, TARGET)
    listed = {f"{TARGET}/{name}" for name in manifest["files"]}
    present = {key for key in storage.list_keys(TARGET) if not key.endswith("_MANIFEST.json")}
    assert present == listed
    writers = {storage.read_json(key)["writer"] for key in listed}
    assert writers == {manifest["writer"]}
    return str(manifest["writer"])


@pytest.mark.parametrize("interrupt_at", [1, 2])
def test_a_publisher_interrupted_by_another_leaves_one_complete_partition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interrupt_at: int
) -> None:
    """Forced interleavings: publisher B runs whole between A's first and second rename
    (A's old folder already aside) or right before A's first one."""
    storage = LocalStorage(tmp_path)
    publish_as(storage, "old")
    real_rename = os.rename
    calls = {"a": 0}

    def rename(src: Any, dst: Any) -> None:
        calls["a"] += 1
        if calls["a"] == interrupt_at:
            monkeypatch.setattr(os, "rename", real_rename)  # B runs with the real one
            publish_as(storage, "b")
            monkeypatch.setattr(os, "rename", rename)
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    publish_as(storage, "a")
    monkeypatch.setattr(os, "rename", real_rename)

    assert assert_one_complete_partition(storage) == "a"  # the last to swap wins
    assert not list(tmp_path.glob("curated/exposures/.*.trash"))
    assert storage.list_folders(f"{STAGING}/{socket.gethostname()}") == []


@pytest.fixture(params=["local", "s3"])
def any_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """A local root, and a root on the S3 protocol (moto's server)."""
    if request.param == "local":
        return LocalStorage(tmp_path)
    return s3_storage(request.getfixturevalue("s3_endpoint"))


def test_racing_publishers_always_leave_one_complete_partition(any_storage: Storage) -> None:
    storage = any_storage
    errors: list[BaseException] = []

    def publisher(name: str) -> None:
        try:
            for round_ in range(10):
                publish_as(storage, f"{name}{round_}")
        except BaseException as exc:  # collected: a thread's exception must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=publisher, args=(name,)) for name in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert assert_one_complete_partition(storage)[1:] == "9"


# -- kills and leftovers ----------------------------------------------------------------------

KILLED_MID_SWAP = """
import os, sys
from components.core import partitions
from components.core.storage import LocalStorage

storage = LocalStorage(sys.argv[1])
rename = os.rename
def rename_then_die(src, dst):
    rename(src, dst)
    if str(dst).endswith(".trash"):
        os._exit(9)  # killed between moving the old folder aside and swapping the new one in
os.rename = rename_then_die
partitions.publish_files(storage, sys.argv[2], {"part.json": {"writer": "killed"}}, {})
"""


def test_a_publisher_killed_mid_swap_leaves_leftovers_the_next_publish_removes(
    tmp_path: Path,
) -> None:
    storage = LocalStorage(tmp_path)
    publish_as(storage, "old")
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_MID_SWAP, str(tmp_path), TARGET], cwd=REPO, timeout=60
    )
    assert killed.returncode == 9
    assert not partitions.is_published(storage, TARGET)  # never half of one
    assert len(list(tmp_path.glob("curated/exposures/.*.trash"))) == 1
    assert len(storage.list_folders(f"{STAGING}/{socket.gethostname()}")) == 1

    publish_as(storage, "next")

    assert assert_one_complete_partition(storage) == "next"
    assert not list(tmp_path.glob("curated/exposures/.*.trash"))
    assert storage.list_folders(f"{STAGING}/{socket.gethostname()}") == []


def staging_area(storage: Storage, host: str, pid: int, age_s: float) -> str:
    started = int(time.time() - age_s)
    key = f"{STAGING}/{host}/{pid}-{started}-0123456789ab-probe"
    storage.write_bytes(f"{key}/part-0.parquet", b"half written")
    return key


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_gc_removes_only_what_no_live_process_owns(any_storage: Storage) -> None:
    storage = any_storage
    here = socket.gethostname()
    dead = staging_area(storage, here, dead_pid(), age_s=5)
    live = staging_area(storage, here, os.getpid(), age_s=10 * 86400)
    abandoned = staging_area(storage, "another-host", 1, age_s=2 * 86400)
    recent = staging_area(storage, "another-host", 1, age_s=3600)

    assert leftovers.stale_staging(storage) == [abandoned, dead]
    removed = leftovers.collect_garbage(storage).to_json()

    assert removed["staging"] == [abandoned, dead]
    for key in (live, recent):
        assert storage.exists(f"{key}/part-0.parquet")


def test_the_gc_command_sweeps_a_local_root(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    publish_as(storage, "kept")
    dead = staging_area(storage, socket.gethostname(), dead_pid(), age_s=5)
    trash = tmp_path / "curated" / "exposures" / f".dt={DS}.0123abcd.trash"
    trash.mkdir()
    temp = tmp_path / "curated" / ".notes.json.0123abcd.tmp"
    temp.write_text("{")
    os.utime(temp, (time.time() - 3600, time.time() - 3600))

    result = adagrpo("gc", "--root", str(tmp_path))

    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == {
        "staging": [dead],
        "trash": [str(trash.relative_to(tmp_path))],
        "temp_files": [str(temp.relative_to(tmp_path))],
    }
    assert not trash.exists() and not temp.exists()
    assert assert_one_complete_partition(storage) == "kept"


def test_a_file_changed_after_publication_is_refused_naming_it(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    publish_as(storage, "a")
    (tmp_path / TARGET / "part-1.json").write_text('{"writer": "b"}')

    with pytest.raises(partitions.ArtifactIntegrityError, match=r"part-1\.json: sha256"):
        partitions.verify_files(storage, TARGET)
