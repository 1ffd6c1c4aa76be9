"""``make bench-ab``: the paper's online claim as a simulated A/B test.

From the runs ``adagrpo experiment`` published for the demo day (``make bench-regimes`` leaves
them), continued NLL is registered as the champion and a challenger beside it, each at the
checkpoint its validation split picks (``adagrpo registry put-up``: the blessing judges logged
HR, which is not the claim). Three experiments, each in its own registry and its own copy of
the shop: AdaGRPO, the mixture best on validation and the mixture at lambda 1 as challengers.

Each is sized before it runs, with the readout's own power calculation (the two-proportion
test of ``ab_test.*``): the lift it must detect is the gap in expected CTR measured offline
from the truth (each arm's top-10 slates for the test users, each slot's examination times the
item's true relevance). ``adagrpo serve`` then serves both arms to the simulated users for as
many days as that calls for (at most ``--max-days``), ``simulate --serve`` writes the traffic,
``extract`` curates it and ``ab-readout`` reads it out: CTR and dwell lifts with their
intervals, the sample-ratio check, the hallucination guardrail. Beside each readout: the wall
time, the requests per second the service sustained, the smallest lift the test could see (the
readout's own, 80% power at its standard error) and how many users a test needs to see the
offline gap (the users it had, times the squared ratio of the two lifts). ``--readouts-only``
reads the experiments out again from their shops, keeping the traffic figures of the last run.
Results: ``benchmarks/results/ab.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.bench_beauty import REPO, timed_stage
from benchmarks.experiment import CONFIGS, DEMO_DS
from benchmarks.run import RESULTS, write_result
from components.core import layout
from components.core.config import PipelineConfig, load_config
from components.core.storage import LocalStorage
from components.datasets.reader import open_dataset
from components.experiment.stage import TruthScore
from components.registry.experiments import required_exposures
from components.registry.stage import put_up_run
from components.simulate.logging_policy import PolicyParams
from components.simulate.scales import SCALES
from components.trainer.checkpoints import PolicyRun

log = logging.getLogger("adagrpo.ab")
MAX_DAYS = 14
SHOP_FOLDERS = (layout.RAW_EXPOSURES, layout.RAW_CATALOG, layout.TRUTH)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("var/demo"), help="the trained shop")
    parser.add_argument("--workdir", type=Path, default=Path("var/bench/ab"))
    parser.add_argument("--ds", type=date.fromisoformat, default=DEMO_DS)
    parser.add_argument("--max-days", type=int, default=MAX_DAYS, help="days of traffic at most")
    parser.add_argument(
        "--also",
        metavar="RUN",
        action="append",
        default=[],
        help="an evaluated run of the day to put up as a further challenger (repeatable)",
    )
    parser.add_argument(
        "--readouts-only",
        action="store_true",
        help="no new traffic: read the last run's experiments out again",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    started = time.perf_counter()
    root = args.root.resolve()
    config = load_config(CONFIGS / "demo.yaml", [f"storage.root={root}"], environ={})
    storage = LocalStorage(root)
    comparison = storage.read_json(
        f"{layout.partition(layout.COMPARISON, args.ds)}/{layout.COMPARISON_FILE}"
    )
    runs = {r["variant"]: r["run"] for r in comparison["runs"] if r["seed"] == 0}
    runs.update({key: key for key in args.also})
    mixes = [v for v in comparison["variants"] if v["variant"].startswith("mix:")]
    best_mix = max(mixes, key=lambda v: v["best"]["valid_ndcg"]["mean"])["variant"]
    adagrpo = next(name for name in runs if name.startswith("adagrpo"))
    offline = _offline(config, storage, args.ds, runs)
    experiments = []
    previous_wall_s, previous = _previous_traffic() if args.readouts_only else (None, {})
    for challenger in dict.fromkeys([adagrpo, best_mix, "mix:1", *args.also]):
        workdir = (args.workdir / re.sub(r"[^A-Za-z0-9.-]+", "-", challenger)).resolve()
        if args.readouts_only:
            experiment = _read_out(config, args.ds, offline, challenger, workdir, previous)
        else:
            experiment = _experiment(
                config, args.ds, runs, offline, challenger, workdir, args.max_days
            )
        experiments.append(experiment)
    result = {
        "traffic_run_wall_s": previous_wall_s,
        "ds": args.ds.isoformat(),
        "scale": config.simulate.scale,
        "best_mixture": best_mix,
        "offline": offline,
        "experiments": experiments,
    }
    path = write_result("ab", result, time.perf_counter() - started)
    print(f"ab -> {path}")
    return 0


def _offline(
    config: PipelineConfig, storage: LocalStorage, ds: date, runs: dict[str, str]
) -> dict[str, Any]:
    """Each run's expected CTR per exposure and truth ratio on the test users, at the
    checkpoint its validation split picks (what put-up registers)."""
    score = TruthScore.load(storage, config, open_dataset(storage, ds), k=10)
    if score is None:
        raise SystemExit(f"{storage.uri('')} holds no simulator truth: the A/B needs one")
    offline = {}
    for variant, key in runs.items():
        run = PolicyRun(storage, ds, key)
        step = storage.read_json(run.evaluation_summary)["best"]["step"]
        scores = score.per_user(run.load_policy(step), constrained=True)
        offline[variant] = {
            "run": key,
            "step": step,
            "expected_ctr": float(scores.click_rate.mean()),
            "truth_ratio": scores.truth_ratio,
        }
    return offline


def _experiment(
    config: PipelineConfig,
    ds: date,
    runs: dict[str, str],
    offline: dict[str, Any],
    challenger: str,
    workdir: Path,
    max_days: int,
) -> dict[str, Any]:
    log.info("A/B: nll against %s in %s", challenger, workdir)
    shop, registry = workdir / "shop", workdir / "registry"
    _copy_shop(Path(config.storage.root), shop, ds)
    # The runs are read where they were trained; the experiment has its own registry.
    chosen = config.model_copy(
        update={"registry": config.registry.model_copy(update={"root": str(registry)})}
    )
    if registry.exists():
        subprocess.run(["rm", "-rf", str(registry)], check=True)
    reason = f"bench-ab: nll against {challenger}"
    for variant in ("nll", challenger):
        outcome = put_up_run(chosen, ds, runs[variant], None, "bench-ab", reason)
    experiment_id = outcome["experiment"]
    plan = _plan(config, offline["nll"]["expected_ctr"], offline[challenger]["expected_ctr"])
    days = min(plan["days"], max_days)
    last = ds + timedelta(days=days)
    flags = ("--config", str(CONFIGS / "demo.yaml"))
    with _service(registry, experiment_id) as url:
        begun = time.perf_counter()
        timed_stage(
            shop, "simulate", *flags, "--serve", url, "--ds", last.isoformat(),
            "--lookback-days", str(days), "--scale", config.simulate.scale,
        )  # fmt: skip
        traffic_s = time.perf_counter() - begun
    timed_stage(shop, "extract", *flags, "--ds", last.isoformat(), "--lookback-days", str(days))
    traffic = {"days": days, "wall_s": round(traffic_s, 1), "plan": {**plan, "days_run": days}}
    return _read_out(config, ds, offline, challenger, workdir, {challenger: traffic})


def _read_out(
    config: PipelineConfig,
    ds: date,
    offline: dict[str, Any],
    challenger: str,
    workdir: Path,
    traffic: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """``ab-readout`` of the experiment in ``workdir`` after its days of ``traffic``."""
    shop, registry = workdir / "shop", workdir / "registry"
    ran = traffic[challenger]
    last = ds + timedelta(days=ran["days"])
    experiment_id = _experiment_id(registry)
    timed_stage(
        shop, "ab-readout", "--config", str(CONFIGS / "demo.yaml"), "--experiment",
        experiment_id, "--ds", last.isoformat(), "--registry", str(registry),
    )  # fmt: skip
    readout = LocalStorage(shop).read_json(
        f"{layout.AB_READOUTS}/{experiment_id}/dt={last.isoformat()}/readout.json"
    )
    requests = _requests(LocalStorage(shop), ds, last)
    users = sum(arm["users"] for arm in readout["arms"].values())
    detectable = readout["ctr"]["minimum_detectable_lift"]
    offline_lift = offline[challenger]["expected_ctr"] / offline["nll"]["expected_ctr"] - 1
    return {
        "challenger": challenger,
        "experiment": experiment_id,
        "plan": ran["plan"],
        "traffic": {
            "days": ran["days"],
            "users": {arm: entry["users"] for arm, entry in readout["arms"].items()},
            "exposures": {arm: entry["exposures"] for arm, entry in readout["arms"].items()},
            "requests": requests,
            "wall_s": ran["wall_s"],
            "serve_requests_per_s": round(requests / ran["wall_s"], 1),
        },
        "ctr": readout["ctr"],
        "dwell_ms": readout["dwell_ms"],
        "arms": readout["arms"],
        "sample_ratio": readout["sample_ratio"],
        "guardrail": readout["guardrail"],
        "verdict": readout["verdict"],
        "detectable_lift": detectable,
        "offline_lift": offline_lift,
        "users_needed_for_offline_lift": math.ceil(users * (detectable / abs(offline_lift)) ** 2),
    }


def _experiment_id(registry: Path) -> str:
    """The experiment of an A/B registry: it holds exactly one."""
    [spec] = (registry / layout.REGISTRY_EXPERIMENTS).glob("*.json")
    return spec.stem


def _previous_traffic() -> tuple[float, dict[str, dict[str, Any]]]:
    """The last ``ab.json``'s wall time (of the run that made the traffic), and each
    experiment's days, traffic wall time and plan."""
    path = RESULTS / "ab.json"
    if not path.is_file():
        raise SystemExit("no earlier run to read out again: run make bench-ab first")
    document = json.loads(path.read_text())
    experiments = {
        experiment["challenger"]: {
            "days": experiment["traffic"]["days"],
            "wall_s": experiment["traffic"]["wall_s"],
            "plan": experiment["plan"],
        }
        for experiment in document["results"]["experiments"]
    }
    return document["results"].get("traffic_run_wall_s") or document["wall_s"], experiments


def _plan(config: PipelineConfig, control_ctr: float, treatment_ctr: float) -> dict[str, Any]:
    """The traffic the readout's power calculation asks for to see the offline gap."""
    settings = config.ab_test
    lift = treatment_ctr / control_ctr - 1
    needed = required_exposures(control_ctr, abs(lift), settings.alpha, settings.power)
    scale = SCALES[config.simulate.scale]
    smaller_arm = min(settings.treatment_share, 1 - settings.treatment_share)
    per_arm_per_day = scale.requests_per_day * PolicyParams().slate_size * smaller_arm
    return {
        "baseline_ctr": control_ctr,
        "offline_lift": lift,
        "alpha": settings.alpha,
        "power": settings.power,
        "exposures_per_arm": needed,
        "days": max(1, math.ceil(needed / per_arm_per_day)),
    }


def _copy_shop(source: Path, target: Path, ds: date) -> None:
    """The shop's raw logs up to ``ds``, its catalogs and its truth, hard-linked (no copy of
    the bytes: every write publishes new files, nothing is rewritten in place)."""
    if target.exists():
        subprocess.run(["rm", "-rf", str(target)], check=True)
    for folder in SHOP_FOLDERS:
        (target / folder).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-al", str(source / folder), str(target / folder)], check=True)
    for day in sorted((target / layout.RAW_EXPOSURES).glob("dt=*")):
        if date.fromisoformat(day.name.removeprefix("dt=")) > ds:
            subprocess.run(["rm", "-rf", str(day)], check=True)


def _requests(storage: LocalStorage, ds: date, last: date) -> int:
    """Slate requests the service answered: distinct requests of the experiment's days."""
    count = 0
    day = ds + timedelta(days=1)
    while day <= last:
        table = storage.read_parquet(
            layout.partition(layout.CURATED_EXPOSURES, day), ["request_id", "experiment_id"]
        )
        served = table.filter(table["experiment_id"].is_valid())
        count += len(np.unique(served["request_id"].to_numpy(zero_copy_only=False)))
        day += timedelta(days=1)
    return count


class _service:
    """``adagrpo serve`` of the experiment in its own process, on a free loopback port."""

    def __init__(self, registry: Path, experiment_id: str) -> None:
        self.registry, self.experiment_id = registry, experiment_id

    def __enter__(self) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command = [
            sys.executable, "-m", "components.cli", "serve", "--registry", str(self.registry),
            "--experiment", self.experiment_id, "--port", str(port),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=REPO, env=os.environ.copy())
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"adagrpo serve exited with {self.process.returncode}")
            time.sleep(0.5)
        raise RuntimeError("adagrpo serve did not become healthy in 5 minutes")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


if __name__ == "__main__":
    raise SystemExit(main())
