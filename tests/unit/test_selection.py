"""Selection: the best validation checkpoint of the day under the hallucination cap, with every
candidate's outcome, on evaluation summaries built by hand."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from components import cli
from components.core import layout, partitions
from components.core.config import PipelineConfig
from components.core.storage import LocalStorage
from components.selection.stage import select_candidate

DS = date(2026, 11, 14)


def evaluated(root: Path, run: str, checkpoints: list[tuple[int, float, float]]) -> None:
    """An evaluated run whose checkpoints have (step, valid NDCG@10, valid hallucination)."""
    summary = {
        "checkpoints": [
            {
                "step": step,
                "model_sha256": f"{run}-{step}",
                "valid": {
                    "constrained": {"ndcg@10": ndcg, "hallucination_rate": 0.0},
                    "unconstrained": {"ndcg@10": ndcg, "hallucination_rate": hallucination},
                },
                "test": {"constrained": {"ndcg@10": 1.0}},  # never read: a trap if it were
            }
            for step, ndcg, hallucination in checkpoints
        ]
    }
    prefix = f"{layout.partition(layout.MODELS_POLICY, DS)}/{run}/evaluation"
    partitions.publish_files(LocalStorage(root), prefix, {"summary.json": summary}, {})


def test_the_best_eligible_checkpoint_wins_and_every_other_says_why(
    config: PipelineConfig,
) -> None:
    root = Path(config.storage.root)
    evaluated(root, "method=nll", [(62, 0.20, 0.002), (124, 0.22, 0.0)])
    evaluated(root, "method=adagrpo,lambda=1", [(10, 0.23, 0.001), (20, 0.25, 0.02)])

    decision = select_candidate(config, DS)

    assert decision["selected"] == {
        "run": "method=adagrpo,lambda=1", "step": 10, "model_sha256": "method=adagrpo,lambda=1-10",
        "valid_metric": 0.23, "valid_hallucination": 0.001,
    }  # fmt: skip
    assert [(c["run"], c["step"], c["outcome"]) for c in decision["candidates"]] == [
        ("method=adagrpo,lambda=1", 20, "ineligible: hallucination 0.0200 above 0.01"),
        ("method=adagrpo,lambda=1", 10, "selected"),
        ("method=nll", 124, "lost: 0.2200 against 0.2300 (method=adagrpo,lambda=1 step 10)"),
        ("method=nll", 62, "lost: 0.2000 against 0.2300 (method=adagrpo,lambda=1 step 10)"),
    ]
    published = LocalStorage(root).read_json(
        f"{layout.partition(layout.SELECTION, DS)}/selection.json"
    )
    assert published == decision


def test_no_eligible_checkpoint_selects_nothing(config: PipelineConfig) -> None:
    evaluated(Path(config.storage.root), "method=nll", [(62, 0.2, 0.5)])

    assert select_candidate(config, DS)["selected"] is None


def test_a_day_without_evaluated_runs_names_the_command(
    config: PipelineConfig, caplog: pytest.LogCaptureFixture
) -> None:
    root = config.storage.root
    assert cli.main(["select", "--root", root, "--ds", DS.isoformat()]) == 2
    assert f"run `adagrpo evaluate --ds {DS}` first" in caplog.text


def test_the_cli_prints_the_selected_checkpoint(
    config: PipelineConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    evaluated(Path(config.storage.root), "method=nll", [(62, 0.2, 0.0)])

    assert cli.main(["select", "--root", config.storage.root, "--ds", DS.isoformat()]) == 0
    assert json.loads(capsys.readouterr().out)["step"] == 62


def test_a_summary_from_an_older_evaluation_names_the_command_to_refresh_it(
    config: PipelineConfig,
) -> None:
    root = Path(config.storage.root)
    evaluated(root, "method=nll", [(62, 0.2, 0.0)])
    summary = root / layout.partition(layout.MODELS_POLICY, DS) / "method=nll/evaluation"
    document = json.loads((summary / "summary.json").read_text())
    del document["checkpoints"][0]["model_sha256"]
    (summary / "summary.json").write_text(json.dumps(document))

    with pytest.raises(ValueError, match=r"run `adagrpo evaluate --run method=nll` again"):
        select_candidate(config, DS)
