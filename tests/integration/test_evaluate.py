"""``adagrpo evaluate`` as a real process after a tiny ``adagrpo train`` run: every checkpoint
scored on validation, with and without the trie; the one chosen there scored on test; a rerun
reuses the scores; and evaluating before training is refused."""

from __future__ import annotations

import itertools
import json
from datetime import date
from pathlib import Path
from typing import Any

from components.core.layout import DATASETS, partition
from components.core.partitions import read_manifest
from components.core.storage import LocalStorage
from tests.integration.test_train_policy import (
    DS,
    RUN,
    adagrpo,
    committed_steps,
    fresh_root,
    needs_dataset,
    succeeded,
    train_args,
)

EVALUATION = f"{RUN}/evaluation"
KS = (1, 5, 10)
METRICS = {*(f"{name}@{k}" for name in ("hr", "ndcg") for k in KS), "hallucination_rate", "users"}


def evaluate_args(root: Path, *settings: str) -> list[str]:
    overrides = [
        arg for setting in ("evaluate.batch_size=64", *settings) for arg in ("--set", setting)
    ]
    return ["evaluate", "--root", str(root), "--ds", DS, *overrides]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def check_metrics(metrics: dict[str, Any], constrained: bool) -> None:
    assert set(metrics) == METRICS, metrics
    assert metrics["users"] > 0
    for k, wider in itertools.pairwise(KS):
        assert metrics[f"hr@{k}"] <= metrics[f"hr@{wider}"], metrics
    for k in KS:
        assert 0.0 <= metrics[f"ndcg@{k}"] <= metrics[f"hr@{k}"] <= 1.0, metrics
    if constrained:
        assert metrics["hallucination_rate"] == 0.0, metrics
    else:
        assert 0.0 <= metrics["hallucination_rate"] <= 1.0, metrics


@needs_dataset
def test_evaluate_scores_every_checkpoint_and_reuses_its_scores(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    root = fresh_root(tiny_dataset, tmp_path / "root")

    untrained = adagrpo(*evaluate_args(root), timeout=120)
    assert untrained.returncode == 2, untrained.stderr[-3000:]
    assert f"adagrpo train --ds {DS}" in untrained.stderr
    assert not (root / EVALUATION).exists()

    settings = ("train.epochs=2", "train.batch_size=32", "train.checkpoint_every=3")
    succeeded(adagrpo(*train_args(root, *settings)))
    steps = committed_steps(root)
    assert len(steps) >= 2, steps

    first = succeeded(adagrpo(*evaluate_args(root)))
    assert "already evaluated" not in first.stderr
    step_files = sorted((root / EVALUATION / "checkpoints").iterdir())
    assert [path.name for path in step_files] == [f"step-{step:09d}.json" for step in steps]
    results = [read_json(path) for path in step_files]
    for step, result in zip(steps, results, strict=True):
        checkpoint = read_json(root / RUN / "checkpoints" / f"step-{step:09d}" / "_MANIFEST.json")
        assert result["step"] == step
        assert result["model_sha256"] == checkpoint["sha256"]["model.safetensors"]
        assert result["settings"]["ks"] == list(KS) and result["settings"]["batch_size"] == 64
        assert set(result["valid"]) == {"unconstrained", "constrained"}
        check_metrics(result["valid"]["unconstrained"], constrained=False)
        check_metrics(result["valid"]["constrained"], constrained=True)

    # Chosen on validation as the select stage chooses (no checkpoint hallucinates past the
    # cap here), and only the chosen one is scored on the test split, all of it.
    summary = read_json(root / EVALUATION / "summary.json")
    best_score = max(r["valid"]["constrained"]["ndcg@10"] for r in results)
    best = next(r for r in results if r["valid"]["constrained"]["ndcg@10"] == best_score)
    assert [r["step"] for r in results if "test" in r] == [best["step"]]  # the earliest of ties
    check_metrics(best["test"]["unconstrained"], constrained=False)
    check_metrics(best["test"]["constrained"], constrained=True)
    assert summary["best"]["step"] == best["step"]
    assert summary["best"]["valid"] == best["valid"] and summary["best"]["test"] == best["test"]
    assert [c["step"] for c in summary["checkpoints"]] == steps
    examples = read_manifest(LocalStorage(root), partition(DATASETS, date.fromisoformat(DS)))
    assert summary["users"] == {
        "valid": examples["examples"]["valid"],
        "test": examples["examples"]["test"],
    }
    assert json.loads(first.stdout)["step"] == best["step"]

    report = (root / EVALUATION / "report.html").read_text()
    assert report.count("<img") >= 2 and "data:image/png;base64," in report
    assert f"step {best['step']}" in report
    manifest = read_json(root / EVALUATION / "_MANIFEST.json")
    assert manifest["producer"] == "evaluate" and manifest["ds"] == DS
    assert manifest["run"] == "method=nll" and manifest["best_step"] == best["step"]

    # A rerun reads the scores back and publishes the same report.
    published_report = (root / EVALUATION / "report.html").read_bytes()
    unchanged = succeeded(adagrpo(*evaluate_args(root)))
    assert unchanged.stderr.count("already evaluated") == len(steps)
    assert "beam search" not in unchanged.stderr
    assert (root / EVALUATION / "report.html").read_bytes() == published_report

    # What it reads back decides: make the first checkpoint the best on validation. Only its
    # test scores are new.
    first_step = next(r for r in results if r["step"] == steps[0])
    assert "test" not in first_step
    tampered = {**first_step, "valid": {**first_step["valid"]}}
    tampered["valid"]["constrained"] = {**first_step["valid"]["constrained"], "ndcg@10": 1.0}
    step_files[0].write_text(json.dumps(tampered))
    scores = {path.name: path.read_bytes() for path in step_files[1:]}
    again = succeeded(adagrpo(*evaluate_args(root)))
    assert again.stderr.count("already evaluated") == len(steps)
    assert "beam search valid" not in again.stderr and "beam search test" in again.stderr
    assert {path.name: path.read_bytes() for path in step_files[1:]} == scores
    assert read_json(step_files[0])["valid"] == tampered["valid"]
    assert "test" in read_json(step_files[0])
    assert read_json(root / EVALUATION / "summary.json")["best"]["step"] == steps[0]
    assert read_json(root / EVALUATION / "_MANIFEST.json")["best_step"] == steps[0]

    # Other settings: every checkpoint is scored again, here on a sample of validation and on
    # all of test.
    sampled = succeeded(
        adagrpo(*evaluate_args(root, "evaluate.valid_users=50", "evaluate.test_checkpoints=all"))
    )
    assert "already evaluated" not in sampled.stderr
    assert read_json(root / EVALUATION / "summary.json")["users"] == {
        "valid": 50,
        "test": summary["users"]["test"],
    }
    assert read_json(step_files[0])["valid"]["constrained"]["ndcg@10"] < 1.0
    assert all("test" in read_json(path) for path in step_files)

    # A checkpoint corrupted after it was evaluated is refused, never reused as evaluated.
    weights = root / RUN / "checkpoints" / f"step-{steps[0]:09d}" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01
    weights.write_bytes(bytes(data))
    published = (root / EVALUATION / "summary.json").read_bytes()
    corrupted = adagrpo(*evaluate_args(root, "evaluate.valid_users=50"), timeout=120)
    assert corrupted.returncode == 2, corrupted.stderr[-3000:]
    assert f"step-{steps[0]:09d}/model.safetensors: sha256" in corrupted.stderr
    assert "Traceback" not in corrupted.stderr and "already evaluated" not in corrupted.stderr
    assert (root / EVALUATION / "summary.json").read_bytes() == published
    assert not (root / EVALUATION / "_MANIFEST.json").exists()


def test_evaluate_without_a_training_run_names_train(tmp_path: Path) -> None:
    result = adagrpo(*evaluate_args(tmp_path / "empty"), timeout=120)

    assert result.returncode == 2, result.stderr[-3000:]
    assert f"adagrpo train --ds {DS} --method nll" in result.stderr
    assert not (tmp_path / "empty" / EVALUATION).exists()
