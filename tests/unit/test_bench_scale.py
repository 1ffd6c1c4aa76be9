"""The scale benchmark's measurements: a process tree's peak memory, its children's included,
and the growth exponent of a stage's time across sizes."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from benchmarks.processes import measured_run
from benchmarks.scale import STAGES, growth_exponents

ALLOCATE_IN_A_CHILD = (
    "import subprocess, sys; subprocess.run([sys.executable, '-c', "
    '\'import time; block = bytearray(300 * 2**20); block[::4096] = b"x" * len(block[::4096]); '
    "time.sleep(1.5)'], check=True); print('done')"
)


def test_the_peak_counts_the_memory_of_a_child_process(tmp_path: Path) -> None:
    measured = measured_run([sys.executable, "-c", ALLOCATE_IN_A_CHILD], tmp_path)

    assert measured.stdout == "done\n"
    assert measured.peak_rss_mib >= 300
    assert measured.seconds >= 1.5


def test_a_failed_command_raises_naming_it(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="exit code 3"):
        measured_run([sys.executable, "-c", "raise SystemExit(3)"], tmp_path)


def measured_at(rows: int) -> dict[str, object]:
    """Stages whose time grows in proportion to the rows, but build-dataset's, which is fixed."""
    seconds = {stage: rows / 1e6 for stage in STAGES} | {"build-dataset": 5.0}
    return {
        "rows": {"curated": rows},
        "stages": {stage: {"seconds": seconds[stage]} for stage in STAGES},
    }


def test_linear_time_has_growth_exponent_one_and_fixed_time_zero() -> None:
    measured = {"10M": measured_at(10_000_000), "30M": measured_at(30_000_000)}

    assert growth_exponents(measured) == {
        "extract": 1.0, "validate": 1.0, "features": 1.0, "build-dataset": 0.0
    }  # fmt: skip
    assert growth_exponents({"10M": measured["10M"]}) == dict.fromkeys(STAGES)


def test_both_training_input_readers_read_every_sequence_of_the_synthetic_split(
    tmp_path: Path,
) -> None:
    from benchmarks import training_input

    examples = training_input.write_split(tmp_path, users=300)
    assert examples == sum(
        pq.ParquetFile(path).metadata.num_rows for path in tmp_path.glob("*.parquet")
    )
    in_memory = training_input.read_one_epoch(tmp_path, "in-memory", window=100)
    streamed = training_input.read_one_epoch(tmp_path, "streamed", window=100)
    assert in_memory["sequences"] == streamed["sequences"] >= 300  # a sequence a user at least


def test_both_evaluation_input_readers_prepare_every_user_of_the_synthetic_split(
    tmp_path: Path,
) -> None:
    from benchmarks import evaluation_input

    evaluation_input.write_split(tmp_path, users=500)
    in_memory = evaluation_input.prepare_every_user(tmp_path, "in-memory", chunk_users=64)
    streamed = evaluation_input.prepare_every_user(tmp_path, "streamed", chunk_users=64)
    assert in_memory["users"] == streamed["users"] == 500
    assert in_memory["tokens"] == streamed["tokens"] > 500  # an item of history a user at least
