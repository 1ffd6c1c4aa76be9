"""select -> bless -> register on the tiny shop, with a registry on a real S3 endpoint (moto's
server): the first blessed model becomes the champion, a rerun changes nothing, a registered
candidate is never judged against itself, and a tampered version is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components import cli
from components.core.config import load_config
from components.core.storage import LocalStorage
from components.registry.artifacts import WEIGHTS
from components.registry.store import ModelRegistry, version_prefix
from tests.integration.test_train_policy import DS, SMALL, fresh_root, needs_dataset
from tests.snapshots import published_files

pytestmark = needs_dataset

TRAIN = (*SMALL, "train.epochs=1", "train.batch_size=64", "train.checkpoint_every=4")
# The tiny policy is weak: the floors are opened so that the comparison is what is tested.
OPEN_FLOORS = ("promotion.min_hr=0", "promotion.max_hallucination=1", "evaluate.batch_size=64",
               "promotion.bootstrap_samples=200")  # fmt: skip


def stage(root: Path, name: str, *settings: str) -> int:
    flags = [arg for setting in (*TRAIN, *OPEN_FLOORS, *settings) for arg in ("--set", setting)]
    return cli.main([name, "--root", str(root), "--ds", DS, *flags])


def published(root: Path, kind: str) -> dict[str, Any]:
    return json.loads((root / f"promotion/{kind}/dt={DS}/{kind}.json").read_text())


def test_the_first_blessed_model_is_champion_and_is_never_blessed_against_itself(
    tiny_dataset: Path, tmp_path: Path, s3_registry: str, caplog: pytest.LogCaptureFixture
) -> None:
    root = fresh_root(tiny_dataset, tmp_path / "root")
    for name in ("train", "evaluate", "select", "bless", "register"):
        assert stage(root, name) == 0, name
    blessing = published(root, "blessing")
    assert blessing["blessed"] and blessing["champion"] is None
    assert blessing["reasons"][-1] == "no champion: the floors decide"
    report = (root / f"promotion/blessing/dt={DS}/report.html").read_text()
    assert "Blessing 2026-11-03: blessed" in report and "no champion: the floors decide" in report
    registration = published(root, "registration")
    assert registration["version"] == 1 and registration["created"]
    assert registration["alias"]["moves"] == {"champion": [None, 1]}

    registry = ModelRegistry.open(load_config().registry)
    version = registry.verified(1)
    chosen = published(root, "selection")["selected"]
    assert version.manifest["weights_sha256"] == chosen["model_sha256"]
    assert version.manifest["sid_version"] == 1 and version.manifest["method"] == "nll"
    assert "## Provenance" in registry.read_file(1, "model_card.md").decode()

    # The same day again: the registered candidate keeps the decision that registered it (judged
    # again, it would meet itself as the champion), nothing is registered, no alias moves, and
    # the day's outputs are what they were, byte for byte.
    outputs = published_files(LocalStorage(root), "promotion")
    assert stage(root, "bless") == 0 and stage(root, "register") == 0
    assert published_files(LocalStorage(root), "promotion") == outputs
    assert len(registry.audit()) == 1 and len(registry.versions()) == 1

    # A registered version whose weights were tampered with is refused, naming the file.
    registry.storage.write_bytes(f"{version_prefix(1)}/{WEIGHTS}", b"tampered")
    assert stage(root, "bless") == 2
    assert f"{version_prefix(1)}/{WEIGHTS}: sha256" in caplog.text


def test_a_champion_of_another_codebook_is_scored_through_its_own_sid_map(
    tiny_dataset: Path, tmp_path: Path, s3_registry: str
) -> None:
    root = fresh_root(tiny_dataset, tmp_path / "root")
    for name in ("train", "evaluate", "select", "bless", "register"):
        assert stage(root, name) == 0, name
    # A codebook refit: the day's SIDs change, so does the training set; a new candidate.
    assert cli.main(["semantic-ids", "--root", str(root), "--ds", DS, "--refit"]) == 0
    for name in ("build-dataset", "train", "evaluate", "select", "bless"):
        assert stage(root, name) == 0, name

    blessing = published(root, "blessing")
    assert blessing["champion"]["sid_version"] == 1 and not blessing["champion"]["same_codebook"]
    assert blessing["champion"]["test"]["users"] == blessing["candidate"]["test"]["users"]
    assert blessing["comparison"]["users"] == blessing["candidate"]["test"]["users"]
    assert (
        "scored through its own SID map"
        in (root / f"promotion/blessing/dt={DS}/report.html").read_text()
    )


def test_bless_before_select_names_the_command(
    tiny_dataset: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert cli.main(["bless", "--root", str(tiny_dataset), "--ds", DS]) == 2
    assert f"run `adagrpo select --ds {DS}` first" in caplog.text
    assert not LocalStorage(tiny_dataset).exists("promotion")


def put_up(root: Path, run: str, *extra: str) -> int:
    flags = [arg for setting in (*TRAIN, *OPEN_FLOORS) for arg in ("--set", setting)]
    argv = ["registry", "--root", str(root), *flags, "put-up", "--ds", DS, "--run", run]
    return cli.main([*argv, "--reason", "the online claim, tested", "--actor", "tester", *extra])


def test_runs_put_up_by_hand_become_champion_then_challenger_of_an_experiment(
    tiny_dataset: Path, tmp_path: Path, s3_registry: str, caplog: pytest.LogCaptureFixture
) -> None:
    root = fresh_root(tiny_dataset, tmp_path / "root")
    for seed in (0, 1):  # two SFT runs of the day, neither of them blessed
        assert stage(root, "train", f"train.seed={seed}") == 0
        assert stage(root, "evaluate", f"train.seed={seed}") == 0
    assert put_up(root, "method=nll,seed=1", "--step", "999") == 2
    assert "method=nll,seed=1 has no evaluated checkpoint 999; it has [" in caplog.text

    assert put_up(root, "method=nll") == 0
    assert put_up(root, "method=nll,seed=1") == 0

    registry = ModelRegistry.open(load_config().registry)
    assert registry.aliases() == {"champion": 1, "challenger": 2}
    second = registry.verified(2).manifest
    summary = root / f"models/policy/dt={DS}/method=nll,seed=1/evaluation/summary.json"
    best = json.loads(summary.read_text())["best"]["step"]
    assert second["run"] == "method=nll,seed=1" and second["step"] == best  # chosen on valid
    assert second["blessing"]["reasons"] == [
        "put up by tester without the blessing: the online claim, tested"
    ]
    assert [entry["reason"] for entry in registry.audit()] == [
        "the online claim, tested, the first champion", "the online claim, tested"
    ]  # fmt: skip
    experiments = registry.storage.list_keys("experiments")
    assert len(experiments) == 1
    spec = registry.storage.read_json(experiments[0])
    assert {arm: entry["version"] for arm, entry in spec["arms"].items()} == {
        "control": 1, "treatment": 2
    }  # fmt: skip
    planned = spec["power"]["users"]  # from the tiny shop's curated days before the start
    assert planned["users"] > 0 and planned["users_seen"] > 0
    assert planned["planning_days"][1] == DS and 0 < planned["baseline_ctr"] < 1
    # Again: the same versions, no alias moves.
    assert put_up(root, "method=nll,seed=1") == 0
    assert len(registry.versions()) == 2 and len(registry.audit()) == 2


def test_a_candidate_below_a_floor_is_not_blessed_and_nothing_is_registered(
    tiny_dataset: Path, tmp_path: Path, s3_registry: str
) -> None:
    root = fresh_root(tiny_dataset, tmp_path / "root")
    for name in ("train", "evaluate", "select"):
        assert stage(root, name) == 0, name
    floor = "promotion.min_hr=1"  # no model finds every user's next item
    assert stage(root, "bless", floor) == 0 and stage(root, "register", floor) == 0

    blessing = published(root, "blessing")
    assert not blessing["blessed"] and blessing["champion"] is None
    assert (
        blessing["reasons"][0].startswith("HR@10 ") and " < the floor 1.0" in blessing["reasons"][0]
    )
    assert published(root, "registration") == {
        "ds": DS, "blessed": False, "reasons": blessing["reasons"]
    }  # fmt: skip
    registry = ModelRegistry.open(load_config().registry)
    assert registry.versions() == [] and registry.audit() == []
    assert registry.aliases() == {"champion": None, "challenger": None}


def test_a_candidate_that_does_not_beat_the_champion_is_not_blessed_and_moves_nothing(
    tiny_dataset: Path, tmp_path: Path, s3_registry: str
) -> None:
    first = fresh_root(tiny_dataset, tmp_path / "first")
    for name in ("train", "evaluate", "select", "bless", "register"):
        assert stage(first, name) == 0, name  # the first model becomes the champion
    # A second data lake, the same registry: a new candidate, which must beat the champion by
    # half of NDCG@10.
    root, margin = fresh_root(tiny_dataset, tmp_path / "root"), "promotion.min_delta=0.5"
    for name in ("train", "evaluate", "select", "bless", "register"):
        assert stage(root, name, "train.seed=1", margin) == 0, name

    blessing = published(root, "blessing")
    assert not blessing["blessed"] and blessing["champion"]["version"] == 1
    assert "does not beat it by 0.5 with the interval above zero" in blessing["reasons"][-1]
    assert published(root, "registration")["blessed"] is False
    registry = ModelRegistry.open(load_config().registry)
    assert [v.number for v in registry.versions()] == [1] and len(registry.audit()) == 1
    assert registry.aliases() == {"champion": 1, "challenger": None}
