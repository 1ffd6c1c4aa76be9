"""`make bench-multinode`: training on two "nodes" on loopback against one process.

Each "node" is the trainer image's launcher (``docker/trainer/launch``) started with the
rendezvous variables that the kubernetes runner's indexed Job gives its pods. Its torchrun
meets the other's through c10d on 127.0.0.1 and runs one gloo worker. The SFT run and an
AdaGRPO run from it are trained both ways from the same data. Dropout is off, because each
worker draws its own dropout masks. What is measured: the wall time of each way and the
largest difference between the final weights.

    python -m benchmarks.multinode --root var/demo --ds 2026-11-14

The root must hold the day's training set, its ranker and an evaluated SFT run (`make demo`).
That SFT run only supplies the data: each way trains its own copy from the dataset.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from safetensors.torch import load_file

from benchmarks.run import write_result
from components.core.config import load_config
from components.core.layout import SFT_KEY, run_key
from components.core.partitions import MANIFEST
from components.orchestration.rendezvous import NODE_INDEX, rendezvous_environment
from components.trainer.checkpoints import MODEL_FILE

log = logging.getLogger("bench-multinode")
REPO = Path(__file__).resolve().parents[1]
LAUNCHER = REPO / "docker" / "trainer" / "launch"
WORKDIR = REPO / "var" / "bench" / "multinode"
NO_DROPOUT = ("policy.dropout=0", "policy.prefix_dropout=0")
OUTPUT_TAIL = 6000  # characters of a failed node's output in the error


class NodeFailed(RuntimeError):
    """A node exited non-zero; the message carries every node's output tail."""


def loopback_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def train_on_nodes(
    arguments: Sequence[str], nodes: int, env: Mapping[str, str], timeout_s: float
) -> float:
    """Run ``adagrpo ARGUMENTS`` (a train call) as ``nodes`` nodes on loopback, each through the
    trainer image's launcher; the wall seconds. Any node's failure stops them all."""
    port = loopback_port()
    shared = {
        **env,
        **rendezvous_environment(nodes, f"127.0.0.1:{port}", run_id=f"loopback-{port}"),
        "PET_LOCAL_ADDR": "127.0.0.1",  # the address the workers' process group binds
        "GLOO_SOCKET_IFNAME": "lo",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as logs:
        outputs = [Path(logs) / f"node-{index}.log" for index in range(nodes)]
        processes = [
            _start_node(arguments, {**shared, NODE_INDEX: str(index)}, output.open("w"))
            for index, output in enumerate(outputs)
        ]
        try:
            _wait_for_all(processes, started + timeout_s)
        except NodeFailed as failure:
            tails = "\n".join(
                f"--- node {index} ---\n{output.read_text()[-OUTPUT_TAIL:]}"
                for index, output in enumerate(outputs)
            )
            raise NodeFailed(f"{failure}\n{tails}") from None
        finally:
            for process in processes:  # each node's session: torchrun and its workers
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    return time.perf_counter() - started


def _start_node(
    arguments: Sequence[str], env: dict[str, str], output: IO[str]
) -> subprocess.Popen[bytes]:
    with output:  # the child keeps its own descriptor
        return subprocess.Popen(
            ["sh", str(LAUNCHER), *arguments],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_for_all(processes: list[subprocess.Popen[bytes]], deadline: float) -> None:
    while any(process.poll() is None for process in processes):
        failed = [p.returncode for p in processes if p.returncode not in (None, 0)]
        if failed:
            raise NodeFailed(f"a node exited with {failed[0]}")
        if time.perf_counter() > deadline:
            raise NodeFailed("the nodes did not finish in time")
        time.sleep(0.2)
    failed = [p.returncode for p in processes if p.returncode != 0]
    if failed:
        raise NodeFailed(f"a node exited with {failed[0]}")


def final_weights(run: Path) -> Path:
    """The weights file of the final checkpoint of the published run in folder ``run``."""
    summary = json.loads((run / MANIFEST).read_text())
    return run / "checkpoints" / f"step-{summary['final_step']:09d}" / MODEL_FILE


def weight_gap(first: Path, second: Path) -> float:
    """The largest absolute difference between two safetensors files' tensors of equal names."""
    a, b = load_file(first), load_file(second)
    if a.keys() != b.keys():
        raise ValueError(f"{first} and {second} hold different tensors")
    return max(float((a[name].double() - b[name].double()).abs().max()) for name in a)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO / "var" / "demo")
    parser.add_argument("--ds", default="2026-11-14")
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "demo.yaml")
    parser.add_argument("--sft-epochs", type=int, default=1)
    parser.add_argument("--rl-steps", type=int, default=20)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    started = time.perf_counter()
    one, two = _fresh_copies(args.root)
    common = ["--ds", args.ds, "--config", str(args.config), "--device", "cpu"]
    sft = [*NO_DROPOUT, f"train.epochs={args.sft_epochs}"]
    rl = [*sft, f"rl.steps={args.rl_steps}", "rl.rollout=sample"]
    results: dict[str, Any] = {"settings": {"sft": sft, "rl": rl, "ds": args.ds}}

    runs = Path("models/policy") / f"dt={args.ds}"
    sft_run = runs / SFT_KEY
    results["sft"] = _both_ways(one, two, common, sft, sft_run)
    log.info("SFT: %s", results["sft"])
    evaluation = [
        "--ds",
        args.ds,
        "--config",
        str(args.config),
        "--set",
        "evaluate.valid_users=200",
    ]
    _call(["evaluate", "--root", str(one), *evaluation])
    shutil.rmtree(two / sft_run)
    shutil.copytree(one / sft_run, two / sft_run)  # AdaGRPO starts from one checkpoint
    recipe = load_config(args.config, overrides=rl, environ={})
    adagrpo_run = runs / run_key("adagrpo", recipe.rl, recipe.train.seed, from_init=True)
    results["adagrpo"] = _both_ways(one, two, [*common, "--method", "adagrpo"], rl, adagrpo_run)
    log.info("AdaGRPO: %s", results["adagrpo"])
    write_result("multinode", results, time.perf_counter() - started)
    return 0


def _fresh_copies(root: Path) -> tuple[Path, Path]:
    """Two copies of ``root`` without its policy runs, to train in."""
    copies = []
    for name in ("one", "two"):
        copy = WORKDIR / name
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns("policy", "raw", "curated"))
        copies.append(copy)
    return copies[0], copies[1]


def _both_ways(
    one: Path, two: Path, common: list[str], settings: list[str], run: Path
) -> dict[str, Any]:
    """Train in ``one`` as one process (two threads) and in ``two`` as two one-thread "nodes";
    the times and the largest weight difference of the final checkpoints of ``run``."""
    overrides = [arg for setting in settings for arg in ("--set", setting)]
    arguments = ["train", *common, *overrides]
    one_s = _timed_call([*arguments, "--root", str(one)])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    two_s = train_on_nodes([*arguments, "--root", str(two)], 2, env, timeout_s=6 * 3600)
    first, second = (final_weights(root / run) for root in (one, two))
    return {
        "run": str(run),
        "one_process_s": round(one_s, 1),
        "two_nodes_s": round(two_s, 1),
        "two_nodes_x": round(one_s / two_s, 2),
        "max_weight_difference": weight_gap(first, second),
    }


def _timed_call(arguments: list[str]) -> float:
    started = time.perf_counter()
    _call(arguments)
    return time.perf_counter() - started


def _call(arguments: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "components.cli", *arguments], cwd=REPO, check=True)


if __name__ == "__main__":
    sys.exit(main())
