"""The ab-readout stage: an experiment's exposures per arm, read out with intervals, the lift,
its significance, the sample-ratio check and the hallucination guardrail.

The exposures are the curated ones (de-duplicated, validated) tagged with the experiment's id,
from its start to the logical date. The guardrail compares each arm's registered version's
hallucination rate (unconstrained decoding on its day's test users): the challenger may not
hallucinate more than the champion. Published to ``abtest/<experiment id>/dt=D/``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import pyarrow.compute as pc

from components.abtest.report import render_report
from components.abtest.statistics import readout
from components.core import layout, partitions
from components.core.config import PipelineConfig
from components.core.errors import BadInput
from components.core.storage import Storage, open_storage
from components.registry.experiments import read_experiment
from components.registry.store import ModelRegistry

COLUMNS = ["user_id", "arm", "clicked", "dwell_ms", "experiment_id"]


def ab_readout(config: PipelineConfig, experiment_id: str, ds: date) -> dict[str, Any]:
    """Read out ``experiment_id`` with the exposures up to ``ds``; the published result."""
    storage = open_storage(config.storage)
    registry = ModelRegistry.existing(config.registry)
    spec = read_experiment(registry, experiment_id)
    start = date.fromisoformat(spec["start"])
    if ds < start:
        raise BadInput(f"experiment {experiment_id} starts on {start}, after {ds}")
    exposures = _exposures(storage, experiment_id, start, ds)
    settings = config.ab_test
    result = readout(exposures, spec["treatment_share"], 1 - settings.alpha, settings.power)
    result.update(
        experiment=spec,
        days=[start.isoformat(), ds.isoformat()],
        guardrail=_guardrail(registry, spec),
        needed_exposures_per_arm=spec["power"]["exposures_per_arm"],
        needed_users=spec["power"].get("users", {}).get("users"),
    )
    result["verdict"] = verdict(result)
    files = {"readout.json": result, "report.html": render_report(result).encode()}
    readouts = f"{layout.AB_READOUTS}/{experiment_id}"
    partitions.publish_day(storage, readouts, ds, "ab-readout", files, experiment=experiment_id)
    return result


def _exposures(storage: Storage, experiment_id: str, start: date, end: date) -> pd.DataFrame:
    frames = []
    for offset in range((end - start).days + 1):
        day = layout.partition(layout.CURATED_EXPOSURES, start + timedelta(days=offset))
        if partitions.is_published(storage, day):
            table = storage.read_parquet(day, columns=COLUMNS)
            frames.append(table.filter(pc.equal(table["experiment_id"], experiment_id)))
    rows = [frame.to_pandas() for frame in frames if frame.num_rows]
    if not rows:
        raise BadInput(
            f"no curated exposures of experiment {experiment_id} from {start} to {end}: serve "
            "it (`adagrpo serve --experiment ...`) and extract the days its logs landed on"
        )
    return pd.concat(rows, ignore_index=True)


def _guardrail(registry: ModelRegistry, spec: dict[str, Any]) -> dict[str, Any]:
    rates = {
        arm: registry.version(entry["version"]).manifest["metrics"]["test"]["hallucination_rate"]
        for arm, entry in spec["arms"].items()
    }
    return {
        "metric": "hallucination_rate (registered, unconstrained decoding)",
        **rates,
        "passed": rates["treatment"] <= rates["control"],
    }


def verdict(result: dict[str, Any]) -> str:
    """One sentence: what the experiment says, or why it cannot be trusted yet."""
    if result["sample_ratio"]["mismatch"]:
        return "sample-ratio mismatch: the split is broken, the metrics cannot be trusted"
    ctr = result["ctr"]
    if result.get("needed_users") is not None:  # planned from the logs, in the readout's unit
        enough = sum(arm["users"] for arm in result["arms"].values()) >= result["needed_users"]
    else:
        smallest = min(arm["exposures"] for arm in result["arms"].values())
        enough = smallest >= result["needed_exposures_per_arm"]
    if not ctr["significant"]:
        return (
            f"no significant CTR difference (lift {ctr['lift']:+.2%}, p {ctr['p_value']:.3f}); "
            f"this test could detect {ctr['minimum_detectable_lift']:.2%} or more with "
            f"{ctr['power']:.0%} power"
            + ("" if enough else "; the planned sample is not reached yet")
        )
    side = "treatment" if ctr["lift"] > 0 else "control"
    guard = "" if result["guardrail"]["passed"] else "; but the treatment fails the guardrail"
    return f"{side} wins on CTR (lift {ctr['lift']:+.2%}, p {ctr['p_value']:.2g}){guard}"
