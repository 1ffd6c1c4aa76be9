"""``make bench-regimes``: when does gating pay? The same shop under logging policies from nearly
random exposure to strongly biased, every method trained from each level's own SFT run and
ranker, compared on the logs and against the truth.

At each level the demo-scale shop is simulated with that level's logging policy
(``simulate.logging_policy``) and goes through the pipeline (extract, validate, features, the
ranker, semantic IDs, the training set, SFT and its evaluation, as the DAG runs them); then
``adagrpo experiment`` trains continued NLL, the mixture at lambda 0.1 and 1 and AdaGRPO with
the configured recipe (``configs/demo.yaml`` under ``configs/experiment.yaml``'s budget), over
two seeds, and ``adagrpo analyze`` measures the ranker against the truth, per stratum. The
``production`` level is ``make demo``'s own shop (its root is reused when it is there).

Per level: the ranker's pairwise accuracy against the truth, and per method the logged test
HR@10, the truth ratio (true relevance of the top 10 over that of the truth-optimal lists),
hallucination, the best (on validation) and final checkpoints, and paired bootstrap intervals
over the test users (per-user values averaged over the seeds) for AdaGRPO against continued
NLL and against the mixture best on validation. Results: ``benchmarks/results/regimes.json``
and ``regimes.html`` (one frontier per level: logged HR@10 against the truth ratio).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import time
from datetime import date
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_beauty import timed_stage
from benchmarks.experiment import CONFIGS, DEMO_DS, budget_settings
from benchmarks.run import RESULTS, write_result
from components.analysis.stage import analyze
from components.blessing.bootstrap import paired_bootstrap
from components.core import layout
from components.core.config import PipelineConfig, load_config
from components.core.html_page import page, png_image
from components.core.storage import LocalStorage
from components.datasets.reader import open_dataset
from components.experiment.stage import TruthScore, UserScores, run_experiment
from components.orchestration.steps import stage_call
from components.ranker.artifacts import ranker_partition
from components.trainer.checkpoints import PolicyRun

log = logging.getLogger("adagrpo.regimes")

# Each level's logging policy, over simulate.logging_policy's defaults (the production one).
LEVELS: dict[str, dict[str, float]] = {
    "near-random": {"random_share": 0.9},
    "production": {},
    "strongly biased": {"popularity_alpha": 1.0, "personalization_weight": 6.0, "score_noise": 0.1},
}
METHODS: list[tuple[str, float | None]] = [
    ("nll", None),
    ("mix", 0.1),
    ("mix", 1.0),
    ("adagrpo", None),
]
SEEDS = 2
PARAMS = {"lookback_days": 14, "scale": "demo", "codebook": "keep", "backfill_registry": "skip"}
PIPELINE = (
    ("simulate", None), ("extract", None), ("validate", None), ("features", None),
    ("semantic-ids", None), ("build-dataset", None), ("train-ranker", None),
    ("train", "nll"), ("evaluate", "nll"),
)  # fmt: skip
BOOTSTRAP_SAMPLES = 2000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("var/regimes"))
    parser.add_argument("--demo-root", type=Path, default=Path("var/demo"), help="make demo's")
    parser.add_argument("--levels", nargs="*", choices=list(LEVELS), default=list(LEVELS))
    parser.add_argument("--ds", type=date.fromisoformat, default=DEMO_DS)
    parser.add_argument(
        "--shops-only", action="store_true", help="build each level's shop and SFT run, no more"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="draw regimes.html again from regimes.json"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.report_only:
        saved = json.loads((RESULTS / "regimes.json").read_text())["results"]
        (RESULTS / "regimes.html").write_text(render(saved))
        return 0
    started = time.perf_counter()
    levels = []
    for level in args.levels:
        root = args.demo_root if level == "production" else args.workdir / level.replace(" ", "-")
        config, seconds = _shop(level, root.resolve(), args.ds)
        if not args.shops_only:
            levels.append(_level(level, config, args.ds, seconds))
    if args.shops_only:
        return 0
    result = {"ds": args.ds.isoformat(), "seeds": SEEDS, "levels": levels}
    (RESULTS / "regimes.html").write_text(render(result))
    path = write_result("regimes", result, time.perf_counter() - started)
    print(f"regimes -> {path}")
    return 0


def _shop(level: str, root: Path, ds: date) -> tuple[PipelineConfig, dict[str, float]]:
    """The level's configuration, its shop taken through the pipeline to an evaluated SFT run
    unless it is there, and the seconds each stage took."""
    bias = [f"simulate.logging_policy.{name}={value}" for name, value in LEVELS[level].items()]
    overrides = [*budget_settings(), *bias]
    config = load_config(CONFIGS / "demo.yaml", [*overrides, f"storage.root={root}"], environ={})
    storage = LocalStorage(root)
    seconds: dict[str, float] = {}
    if not storage.exists(PolicyRun(storage, ds, layout.SFT_KEY).evaluation_summary):
        flags = ["--config", str(CONFIGS / "demo.yaml")]
        flags += [word for setting in overrides for word in ("--set", setting)]
        for stage, method in PIPELINE:
            call = stage_call(stage, ds.isoformat(), PARAMS, method)
            seconds[call.stage] = timed_stage(root, call.stage, *call.args, *flags)
    return config, seconds


def _level(
    level: str, config: PipelineConfig, ds: date, seconds: dict[str, float]
) -> dict[str, Any]:
    storage = LocalStorage(Path(config.storage.root))
    log.info("regimes: %s, the methods", level)
    begun = time.perf_counter()
    comparison = run_experiment(config, ds, METHODS, SEEDS)
    seconds["experiment"] = round(time.perf_counter() - begun, 1)
    analysis = analyze(config, ds)
    return {
        "level": level,
        "logging_policy": config.simulate.logging_policy.model_dump(),
        "ranker": storage.read_json(f"{ranker_partition(ds)}/metrics.json")["evaluation"],
        "ranker_truth_accuracy": analysis["ranker_truth_accuracy"],
        "sft": comparison["sft"],
        "variants": comparison["variants"],
        "strata": _strata(analysis, comparison),
        "intervals": _intervals(config, storage, ds, comparison),
        "seconds": seconds,
    }


def _strata(analysis: dict[str, Any], comparison: dict[str, Any]) -> list[dict[str, Any]]:
    """Per stratum: its share, the ranker's accuracy, each method's HR@10 and truth ratio
    (seed 0's run)."""
    seed0 = {run["variant"]: run["run"] for run in comparison["runs"] if run["seed"] == 0}
    return [
        {
            "difficult": stratum["difficult"],
            "discriminable": stratum["discriminable"],
            "share": stratum["share"],
            "ranker_truth_accuracy": stratum["ranker_truth_accuracy"],
            "hr@10": {name: stratum["hr@10"].get(key) for name, key in seed0.items()},
            "truth_ratio": {name: stratum["truth_ratio"].get(key) for name, key in seed0.items()},
        }
        for stratum in analysis["strata"]
    ]


def _intervals(
    config: PipelineConfig, storage: LocalStorage, ds: date, comparison: dict[str, Any]
) -> list[dict[str, Any]]:
    """Paired bootstrap intervals over the test users of AdaGRPO against continued NLL and
    against the mixture best on validation, on HR@10 and on the truth ratio."""
    score = TruthScore.load(storage, config, open_dataset(storage, ds), comparison["k"])
    if score is None:
        return []
    per_variant: dict[str, list[UserScores]] = {}
    for run in comparison["runs"]:
        policy = PolicyRun(storage, ds, run["run"]).load_policy(run["best"]["step"])
        per_variant.setdefault(run["variant"], []).append(score.per_user(policy))
    mixes = [v for v in comparison["variants"] if v["variant"].startswith("mix:")]
    best_mix = max(mixes, key=lambda v: v["best"]["valid_ndcg"]["mean"])["variant"]
    adagrpo = next(name for name in per_variant if name.startswith("adagrpo"))
    intervals = []
    for other in ("nll", best_mix):
        ours, theirs = per_variant[adagrpo], per_variant[other]
        optimal = float(ours[0].optimal.mean())
        differences = {
            "hr@10": _seed_mean(ours, "hits") - _seed_mean(theirs, "hits"),
            "truth_ratio": (_seed_mean(ours, "relevance") - _seed_mean(theirs, "relevance"))
            / optimal,
        }
        for metric, difference in differences.items():
            interval = paired_bootstrap(difference, BOOTSTRAP_SAMPLES, seed=0)
            intervals.append({"a": adagrpo, "b": other, "metric": metric, **interval})
    return intervals


def _seed_mean(scores: list[UserScores], field: str) -> np.ndarray:
    """Each test user's ``field`` averaged over the seeds' runs (the same users in each)."""
    return np.mean([getattr(score, field) for score in scores], axis=0)


def render(result: dict[str, Any]) -> str:
    facts = {
        "logical date": result["ds"],
        "seeds": str(result["seeds"]),
        "levels": ", ".join(level["level"] for level in result["levels"]),
    }
    body = [
        "<p>Each point is a method's best checkpoint (chosen on validation): its logged test "
        "HR@10 against its truth ratio, the true relevance of its top 10 over that of the "
        "truth-optimal lists, mean over seeds with their spread.</p>",
        png_image(_frontiers_png(result), "logged HR@10 against the truth ratio, per level"),
    ]
    for level in result["levels"]:
        body.append(f"<h2>{escape(level['level'])}</h2>")
        accuracy = level["ranker_truth_accuracy"]
        body.append(
            f"<p>Logging policy {escape(str(level['logging_policy']))}; ranker AUC "
            f"{level['ranker'].get('auc', float('nan')):.3f}, pairwise accuracy against the "
            f"truth {'n/a' if accuracy is None else f'{accuracy:.3f}'}.</p>"
        )
        body.append(_methods_table(level))
        body.append(_intervals_table(level["intervals"]))
        body.append(_strata_table(level["strata"]))
    return page("When does gating pay? Exposure-bias regimes", facts, body, style=STYLE)


STYLE = "td.num { text-align: right; font-variant-numeric: tabular-nums; }"


def _spread(value: dict[str, float] | None, digits: int = 4) -> str:
    if value is None:
        return '<td class="num"></td>'
    return f'<td class="num">{value["mean"]:.{digits}f} ± {value["std"]:.{digits}f}</td>'


def _methods_table(level: dict[str, Any]) -> str:
    header = (
        "<tr><th>method</th><th>valid NDCG@10</th><th>best: HR@10</th><th>truth ratio</th>"
        "<th>halluc.</th><th>final: HR@10</th><th>valid NDCG@10</th></tr>"
    )
    sft = level["sft"]
    rows = [
        f'<tr><td>SFT start</td><td class="num">{sft["valid_ndcg"]:.4f}</td>'
        f'<td class="num">{sft["hr"]:.4f}</td><td class="num">'
        f"{sft.get('truth_ratio', float('nan')):.4f}</td>"
        f'<td class="num">{100 * sft["hallucination_rate"]:.2f}%</td><td></td><td></td></tr>'
    ]
    for variant in level["variants"]:
        best, final = variant["best"], variant["final"]
        halluc = best["hallucination_rate"]["mean"]
        rows.append(
            f"<tr><td>{escape(variant['variant'])}</td>{_spread(best['valid_ndcg'])}"
            f"{_spread(best['hr'])}{_spread(best.get('truth_ratio'))}"
            f'<td class="num">{100 * halluc:.2f}%</td>{_spread(final["hr"])}'
            f"{_spread(final['valid_ndcg'])}</tr>"
        )
    return "<table>" + header + "".join(rows) + "</table>"


def _intervals_table(intervals: list[dict[str, Any]]) -> str:
    header = "<tr><th>comparison</th><th>metric</th><th>difference</th><th>95% interval</th></tr>"
    rows = [
        f"<tr><td>{escape(i['a'])} vs {escape(i['b'])}</td><td>{escape(i['metric'])}</td>"
        f'<td class="num">{i["mean"]:+.4f}</td>'
        f'<td class="num">[{i["low"]:+.4f}, {i["high"]:+.4f}]</td></tr>'
        for i in intervals
    ]
    return "<table>" + header + "".join(rows) + "</table>"


def _strata_table(strata: list[dict[str, Any]]) -> str:
    """Per stratum of the gate (seed 0's runs): its share, the ranker against the truth, and
    each method's truth ratio there."""
    if not strata:
        return ""
    methods = list(strata[0]["truth_ratio"])
    header = "<tr><th>stratum</th><th>share</th><th>ranker vs truth</th>" + "".join(
        f"<th>truth ratio {escape(m)}</th>" for m in methods
    ) + "</tr>"  # fmt: skip
    rows = []
    for stratum in strata:
        name = (
            ("difficult" if stratum["difficult"] else "easy")
            + ", "
            + ("discriminable" if stratum["discriminable"] else "not discriminable")
        )
        accuracy = stratum["ranker_truth_accuracy"]
        cells = [
            f"<td>{name}</td>",
            f'<td class="num">{stratum["share"]:.0%}</td>',
            f'<td class="num">{"" if accuracy is None else f"{accuracy:.3f}"}</td>',
        ]
        for method in methods:
            value = stratum["truth_ratio"][method]
            cells.append(f'<td class="num">{"" if value is None else f"{value:.3f}"}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "<table>" + header + "".join(rows) + "</table>"


def _frontiers_png(result: dict[str, Any]) -> bytes:
    from matplotlib.figure import Figure

    levels = result["levels"]
    figure = Figure(figsize=(4.2 * len(levels), 3.8), layout="constrained")
    axes = figure.subplots(1, len(levels), squeeze=False)[0]
    for ax, level in zip(axes, levels, strict=True):
        sft = level["sft"]
        if "truth_ratio" in sft:
            ax.scatter([sft["hr"]], [sft["truth_ratio"]], marker="x", color="black")
            ax.annotate("SFT", (sft["hr"], sft["truth_ratio"]), fontsize=7)
        for variant in level["variants"]:
            best = variant["best"]
            if "truth_ratio" not in best:
                continue
            ax.errorbar(
                best["hr"]["mean"], best["truth_ratio"]["mean"], xerr=best["hr"]["std"],
                yerr=best["truth_ratio"]["std"], fmt="o", capsize=2,
            )  # fmt: skip
            ax.annotate(
                variant["variant"], (best["hr"]["mean"], best["truth_ratio"]["mean"]), fontsize=7
            )
        ax.set_title(level["level"], fontsize=9)
        ax.set_xlabel("logged test HR@10")
        ax.set_ylabel("truth ratio of the top 10")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


if __name__ == "__main__":
    raise SystemExit(main())
