"""The model registry on a local folder and on a real S3 endpoint (moto's server): immutable,
verified versions, idempotent registration, and aliases that no racing writer can lose."""

from __future__ import annotations

import itertools
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from components import cli
from components.core.config import load_config
from components.core.partitions import ArtifactIntegrityError
from components.core.storage import Storage
from components.registry.store import ModelRegistry, RegistryError, version_prefix


@pytest.fixture(params=["local", "s3"])
def registry_root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "registry")
    return str(request.getfixturevalue("s3_registry"))


@pytest.fixture
def registry(registry_root: str) -> ModelRegistry:
    """The registry as the CLI opens it (the S3 endpoint from the environment)."""
    return ModelRegistry.open(load_config(overrides=[f"registry.root={registry_root}"]).registry)


def candidate(seed: int) -> dict[str, bytes | dict[str, object]]:
    return {"model.safetensors": f"weights {seed}".encode(), "metrics.json": {"ndcg@10": seed}}


def register(registry: ModelRegistry, seed: int, ds: str = "2026-11-14") -> int:
    version, _ = registry.register(
        f"dt={ds}/sha-{seed}", candidate(seed), {"ds": ds, "method": "adagrpo", "seed": seed}
    )
    return version.number


def test_a_registered_version_is_listed_verified_and_registered_once(
    registry: ModelRegistry,
) -> None:
    version, created = registry.register("dt=2026-11-14/sha-1", candidate(1), {"method": "nll"})
    again, created_again = registry.register("dt=2026-11-14/sha-1", candidate(1), {"x": 0})

    assert created and not created_again and again.number == version.number == 1
    assert [v.number for v in registry.versions()] == [1]
    assert registry.verified(1).manifest["method"] == "nll"
    assert registry.read_file(1, "model.safetensors") == b"weights 1"
    assert registry.version(1).manifest["sha256"].keys() == {"metrics.json", "model.safetensors"}


def test_a_tampered_file_is_refused_naming_it(registry: ModelRegistry) -> None:
    register(registry, 1)
    registry.storage.write_bytes(f"{version_prefix(1)}/model.safetensors", b"weights 2")

    with pytest.raises(ArtifactIntegrityError, match=r"model\.safetensors"):
        registry.verified(1)
    with pytest.raises(ArtifactIntegrityError, match=r"model\.safetensors"):
        registry.set_alias("champion", 1, "test", "a tampered version is never pointed at")
    assert registry.aliases()["champion"] is None


def test_a_failure_mid_upload_leaves_no_visible_version_and_a_retry_completes_it(
    registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = registry.storage.write_bytes

    def failing_write(self: Storage, key: str, data: bytes) -> None:
        if "_staging" in key:
            uploads.append(key)
            if len(uploads) == 2:  # the version's second file
                raise OSError("connection reset")
        real_write(key, data)

    uploads: list[str] = []
    monkeypatch.setattr(type(registry.storage), "write_bytes", failing_write)
    with pytest.raises(OSError, match="connection reset"):
        register(registry, 1)
    monkeypatch.undo()

    assert registry.versions() == []
    with pytest.raises(RegistryError, match="version 1 is not in the registry"):
        registry.version(1)
    number = register(registry, 1)
    assert [v.number for v in registry.versions()] == [number]
    assert registry.verified(number).manifest["seed"] == 1


def test_racing_registrations_get_distinct_versions_and_lose_no_alias_move(
    registry: ModelRegistry,
) -> None:
    def register_and_challenge(seed: int) -> int:
        number = register(registry, seed)
        registry.set_alias("challenger", number, f"worker {seed}", "racing")
        return number

    with ThreadPoolExecutor(max_workers=6) as pool:
        numbers = list(pool.map(register_and_challenge, range(6)))

    assert sorted(numbers) == [1, 2, 3, 4, 5, 6]
    log = registry.audit()
    assert [line["revision"] for line in log] == [1, 2, 3, 4, 5, 6]
    assert sorted(line["moves"]["challenger"][1] for line in log) == sorted(numbers)
    # Each move starts where the one before it ended: none overwrote another.
    assert all(b["moves"]["challenger"][0] == a["moves"]["challenger"][1]
               for a, b in itertools.pairwise(log))  # fmt: skip
    assert registry.aliases()["challenger"] == log[-1]["moves"]["challenger"][1]


def test_racing_registrations_of_one_candidate_make_one_version(registry: ModelRegistry) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        numbers = list(pool.map(lambda _: register(registry, 7), range(4)))

    assert set(numbers) == {numbers[0]} and len(registry.versions()) == 1


def test_promote_then_rollback_restores_the_previous_champion(registry: ModelRegistry) -> None:
    first, second, third = (register(registry, seed) for seed in (1, 2, 3))
    registry.set_alias("champion", first, "test", "bootstrap")
    for challenger in (second, third):
        registry.set_alias("challenger", challenger, "test", "blessed")
        registry.promote("test", "won the A/B test")

    assert registry.aliases() == {"champion": third, "challenger": None}
    registry.rollback("test", "regression in production")
    assert registry.aliases()["champion"] == second
    registry.rollback("test", "that one too")
    assert registry.aliases()["champion"] == first
    with pytest.raises(RegistryError, match="no earlier champion"):
        registry.rollback("test", "nothing left")
    assert [line["action"] for line in registry.audit()] == [
        "set", "set", "promote", "set", "promote", "rollback", "rollback"
    ]  # fmt: skip


def test_promote_without_a_challenger_is_refused(registry: ModelRegistry) -> None:
    with pytest.raises(RegistryError, match="no challenger"):
        registry.promote("test", "nothing to promote")
    assert registry.audit() == []


def test_diff_names_the_fields_and_files_that_differ(registry: ModelRegistry) -> None:
    first, second = register(registry, 1), register(registry, 2)

    diff = registry.diff(first, second)

    assert diff["fields"] == {"seed": [1, 2]}
    assert diff["files"] == {"metrics.json": "changed", "model.safetensors": "changed"}


def test_the_cli_lists_shows_and_promotes(
    registry: ModelRegistry, registry_root: str, capsys: pytest.CaptureFixture[str]
) -> None:
    register(registry, 1)
    registry.set_alias("challenger", 1, "test", "blessed")
    flags = ["--registry", registry_root]

    assert cli.main(["registry", *flags, "promote", "--reason", "won"]) == 0
    capsys.readouterr()
    assert cli.main(["registry", *flags, "list"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["aliases"] == {"champion": 1, "challenger": None}
    assert listing["versions"][0]["aliases"] == ["champion"]
    assert cli.main(["registry", *flags, "show", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["verified"] is True
    assert cli.main(["registry", *flags, "show", "9"]) == 2


def test_the_cli_creates_a_missing_registry_root_once(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ADAGRPO__REGISTRY__S3_ENDPOINT_URL", s3_endpoint)
    flags = ["--registry", "s3://made-by-init/models"]

    assert cli.main(["registry", *flags, "init"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "root": "s3://made-by-init/models",
        "created": True,
    }
    assert cli.main(["registry", *flags, "init"]) == 0
    assert json.loads(capsys.readouterr().out)["created"] is False
    assert cli.main(["registry", *flags, "list"]) == 0
    assert json.loads(capsys.readouterr().out)["versions"] == []


@pytest.mark.parametrize(
    "damage",
    [b"", b"[]", b"{}", b'{"revision": 1, "aliases": {"champion": "1"}, "log": []}',
     b'{"revision": 1, "aliases": {"champion": 0, "challenger": null}, "log": []}'],
)  # fmt: skip
def test_a_damaged_alias_document_is_named_and_nothing_moves(
    registry: ModelRegistry, damage: bytes
) -> None:
    registry.set_alias("champion", register(registry, 1), "me", "first")
    registry.storage.write_bytes("aliases.json", damage)
    for read in (registry.aliases, registry.audit):
        with pytest.raises(RegistryError, match=r"aliases\.json is not (JSON|an alias document)"):
            read()
    with pytest.raises(RegistryError, match="no alias was read or moved"):
        registry.set_alias("challenger", 1, "me", "a move on a damaged document")
    assert registry.storage.read_bytes("aliases.json") == damage
