"""Where every dataset lives under the storage root, derived from dates only.

A rerun or backfill of a day therefore overwrites exactly that day's outputs.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from components.core.errors import BadInput
from components.core.ids import UnsafeId, path_id
from components.core.methods import SFT, training_method

if TYPE_CHECKING:
    from components.core.config import RLConfig

RAW_EXPOSURES = "raw/exposures"  # partitioned by arrival day; late and duplicate events happen
RAW_CATALOG = "raw/catalog"  # one full catalog snapshot per day
TRUTH = "truth"  # the simulator's hidden truth: for analysis, never read by training
CURATED_EXPOSURES = "curated/exposures"  # partitioned by event day, de-duplicated
QUALITY_EXPOSURES = "quality/exposures"  # validation results per curated partition
EMBEDDINGS = "embeddings"  # item embedding cache, keyed by model and a hash of the item's text
SIDS = "sids"  # versioned codebooks (sids/v=<n>/) and daily item <-> SID maps
FEATURES = "features"  # Feast offline sources, registry, online store, ranker training rows
DATASETS = "datasets"  # semantic-ID training sets, one folder per logical date
MODELS_RANKER = "models/ranker"  # the reward model, one per logical date
MODELS_POLICY = "models/policy"  # policy training runs: dt=<ds>/<run key>/
ANALYSIS = "analysis"  # the stratified analysis of each day's runs
COMPARISON = "comparison"  # the experiment comparing every method on a day
SELECTION = "promotion/selection"  # the day's candidate for the registry, and why
BLESSING = "promotion/blessing"  # the candidate against the floors and the champion
REGISTRATION = "promotion/registration"  # the registry version the day's candidate became
AB_READOUTS = "abtest"  # abtest/<experiment id>/dt=<ds>/: an A/B experiment read out

# Inside those locations: what one stage writes and another reads.
TRUTH_USERS = "users.parquet"  # in truth/: each simulated user's hidden taste
TRUTH_ITEMS = "items.parquet"  # in truth/: each item's hidden position and quality
TRUTH_PARAMS = "params.json"  # in truth/: the shop's behavioural knobs and the days covered
FEATURES_OFFLINE = f"{FEATURES}/offline"  # Feast's file sources: <view>/w=<windows>/dt=<day>/
FEATURES_FEAST = f"{FEATURES}/feast"  # Feast's registry and SQLite online store
RANKER_ROWS = f"{FEATURES}/ranker_rows"  # dt=<ds>/exposures-<day>.parquet: rows with features
DATASET_CATALOG = "catalog_sids.parquet"  # in datasets/dt=<ds>/: every item's SID and listing
RUN_METRICS = "metrics.jsonl"  # in a policy run: its training log
RUN_EVALUATION = "evaluation"  # in a policy run: checkpoints/step-N.json, summary, report
EVALUATION_SUMMARY = f"{RUN_EVALUATION}/summary.json"  # every checkpoint's metrics, the best
SELECTION_FILE = "selection.json"  # in promotion/selection/dt=<ds>/
BLESSING_FILE = "blessing.json"  # in promotion/blessing/dt=<ds>/
COMPARISON_FILE = "comparison.json"  # in comparison/dt=<ds>/

# The model registry, under its own root (registry.root): immutable versions, each published
# whole with its manifest; the index of registered candidates (one object each, created once);
# the claimed version numbers; the aliases and their audit log, one document moved by
# conditional writes.
REGISTRY_VERSIONS = "versions"  # versions/v=<n>/
REGISTRY_CANDIDATES = "candidates"  # candidates/<identity>.json -> the version it became
REGISTRY_CLAIMS = "claims"  # claims/<n>: version numbers taken, published or not
REGISTRY_ALIASES = "aliases.json"
REGISTRY_EXPERIMENTS = "experiments"  # experiments/<id>.json: an A/B test, written once


def partition(dataset: str, dt: date) -> str:
    return f"{dataset}/dt={dt.isoformat()}"


def ranker_rows_file(day: date) -> str:
    """The file of a ranker-rows partition that holds the exposures of ``day``."""
    return f"exposures-{day.isoformat()}.parquet"


# The calendar the pipeline works in, and the longest window it reads: every window ending on
# a day of it, and the days around it that stages reach for, are dates.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)
MAX_WINDOW_DAYS = 3_660  # ten years


def window(ds: date, days: int) -> list[date]:
    """The ``days`` days ending on ``ds``, oldest first."""
    if not 1 <= days <= MAX_WINDOW_DAYS:
        raise BadInput(f"a window is 1 to {MAX_WINDOW_DAYS} days long, got {days}")
    if ds - timedelta(days=days - 1) < FIRST_DAY:
        raise BadInput(f"the {days} days ending {ds} begin before {FIRST_DAY}")
    return [ds - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


# -- policy runs: models/policy/dt=<ds>/<run key>/ ---------------------------------------------

SFT_KEY = f"method={SFT}"
# Each knob a run key may name, and the setting it stands for.
KEY_SETTINGS = {
    "lambda": "rl.grpo_weight",
    "reward": "rl.reward",
    "sample": "rl.group_size",  # sample=G: G rollouts sampled (rl.rollout=sample)
    "beam": "rl.group_size",  # beam=G: the G beams of a beam search (rl.rollout=beam)
    "ema": "rl.ema_decay",
    "seed": "train.seed",
}


def run_key(method: str, rl: RLConfig, seed: int, from_init: bool) -> str:
    """The run's folder name: its method and every knob of its recipe, so that two recipes
    never share a folder: the GRPO weight, the reward, the rollouts and their number, the
    weight average; e.g. ``method=adagrpo,lambda=1,reward=ranker,beam=16,ema=0.9``. SFT from
    scratch is ``method=nll``."""
    row = training_method(method)
    parts = [f"method={method}"]
    if not row.reinforced:
        if not from_init:
            return SFT_KEY if not seed else f"{SFT_KEY},seed={seed}"
        parts.append("continued")
    else:
        if row.weighted:
            parts.append(f"lambda={rl.grpo_weight:g}")
        parts += [f"reward={rl.reward}", f"{rl.rollout}={rl.group_size}"]
    parts.append(f"ema={rl.ema_decay:g}")
    if seed:
        parts.append(f"seed={seed}")
    return ",".join(parts)


def check_run_key(key: str) -> str:
    """``key`` if it is a run key (``method=...``, safe as a folder name); a ValueError naming
    the form otherwise."""
    path_id("run key", key)
    if not key.startswith("method="):
        raise UnsafeId(f"{key!r} is not a run key like 'method=nll' or 'method=mix,lambda=0.5'")
    return key


def train_command(ds: date, key: str) -> str:
    """The ``adagrpo train`` call that trains the run ``key`` of ``ds``."""
    method, *knobs = key.split(",")
    words = ["adagrpo train", f"--ds {ds.isoformat()}", f"--{method.replace('=', ' ')}"]
    for knob in knobs:
        name, _, value = knob.partition("=")
        if name == "continued":
            words.append(f"--init {SFT_KEY}")
            continue
        if name in ("sample", "beam"):
            words.append(f"--set rl.rollout={name}")
        words.append(f"--set {KEY_SETTINGS[name]}={value}" if name in KEY_SETTINGS else knob)
    return " ".join(words)
