"""The trainer on hand-made examples and a tiny random policy: sequences, schedule, checkpoints,
and an exact resume."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from components.core import partitions
from components.core.config import TrainConfig
from components.core.layout import SFT_KEY
from components.core.partitions import ArtifactIntegrityError
from components.core.storage import LocalStorage
from components.policy.model import FORMAT as POLICY_FORMAT
from components.policy.model import PAD, Policy, PolicyConfig
from components.trainer import loop
from components.trainer.checkpoints import (
    MODEL_FILE,
    STATE_FILE,
    TRAINER_FILE,
    PolicyRun,
    TrainingState,
)
from components.trainer.distributed import Workers
from components.trainer.loop import Budget, adamw, train_policy
from components.trainer.objective import NextItemNLL, Objective
from components.trainer.schedule import capped_warmup, warmup_cosine
from components.trainer.sequences import Sequences, fold_examples
from components.trainer.stream import SequenceStream

DS = date(2026, 11, 3)
CPU = Workers(0, 1, torch.device("cpu"))

# -- folding examples into sequences ----------------------------------------------------------


def sid(user: int, index: int) -> list[int]:
    """A unique 2-token SID for a user's ``index``-th item."""
    return [user, index]


def examples(items_per_user: dict[int, int], max_history: int) -> pa.Table:
    """One training example per target (every item but each user's first), as the dataset
    builder writes them: the up-to-``max_history`` items before the target as history."""
    rows = [
        {
            "user_id": user,
            "target_index": index,
            "history_sids": [
                token for h in range(max(0, index - max_history), index) for token in sid(user, h)
            ],
            "target_sid": sid(user, index),
            "target_item_id": 100 * user + index,
        }
        for user, count in items_per_user.items()
        for index in range(1, count)
    ]
    schema = pa.schema(
        [
            ("user_id", pa.int64()),
            ("target_index", pa.int32()),
            ("history_sids", pa.list_(pa.int32())),
            ("target_sid", pa.list_(pa.int32())),
            ("target_item_id", pa.int64()),
        ]
    )
    return pa.Table.from_pylist(rows, schema)


def covered_targets(sequences: Sequences) -> list[tuple[int, ...]]:
    """The SIDs every sequence trains on: each of its items but the first."""
    length = sequences.tokens_per_item
    covered = []
    for row, items in zip(sequences.codes.tolist(), sequences.items.tolist(), strict=True):
        covered += [tuple(row[i * length : (i + 1) * length]) for i in range(1, items)]
    return covered


def test_fold_examples_covers_every_target_once_with_exact_rows() -> None:
    # User 1: 6 items (5 targets, more than max_history: three sequences), user 2: 3 items,
    # user 3: 2 items.
    table = examples({1: 6, 2: 3, 3: 2}, max_history=2)
    sequences = fold_examples(table, tokens_per_item=2, max_history=2)

    assert sequences.targets == int((sequences.items - 1).sum()) == table.num_rows == 8
    expected_targets = sorted(tuple(t) for t in table.column("target_sid").to_pylist())
    assert sorted(covered_targets(sequences)) == expected_targets
    # Per user: the last target, then every 2nd before it, as history + target.
    assert sequences.codes.tolist() == [
        [1, 0, 1, 1, PAD, PAD],  # user 1, target 1 (one item of history)
        [1, 1, 1, 2, 1, 3],  # user 1, target 3
        [1, 3, 1, 4, 1, 5],  # user 1, target 5 (the last)
        [2, 0, 2, 1, 2, 2],  # user 2, target 2
        [3, 0, 3, 1, PAD, PAD],  # user 3, target 1
    ]
    assert sequences.items.tolist() == [2, 3, 3, 3, 2]
    assert sequences.codes.dtype == torch.int64
    assert sequences.users.tolist() == [1, 1, 1, 2, 3]
    assert sequences.last_items.tolist() == [101, 103, 105, 202, 301]


def test_last_examples_are_each_sequence_last_item_with_its_left_padded_history() -> None:
    sequences = fold_examples(examples({1: 6, 2: 3, 3: 2}, max_history=2), 2, 2)

    history, target = sequences.last_examples(np.array([0, 2, 4]))

    assert history.tolist() == [[PAD, PAD, 1, 0], [1, 3, 1, 4], [PAD, PAD, 3, 0]]
    assert target.tolist() == [[1, 1], [1, 5], [3, 1]]


def test_fold_examples_does_not_depend_on_row_order() -> None:
    table = examples({1: 6, 2: 3, 3: 2, 4: 9}, max_history=3)
    shuffled = table.take(np.random.default_rng(0).permutation(table.num_rows))
    ordered = fold_examples(table, tokens_per_item=2, max_history=3)
    folded = fold_examples(shuffled, tokens_per_item=2, max_history=3)

    assert sorted(map(tuple, folded.codes.tolist())) == sorted(map(tuple, ordered.codes.tolist()))
    assert sorted(covered_targets(folded)) == sorted(
        tuple(t) for t in table.column("target_sid").to_pylist()
    )


def test_batch_masks_each_sequence_first_item_and_trims_padding() -> None:
    sequences = fold_examples(examples({1: 6, 2: 3, 3: 2}, max_history=2), 2, 2)

    codes, targets = sequences.batch(np.array([0, 2, 4]))
    assert codes.tolist() == [[1, 0, 1, 1, PAD, PAD], [1, 3, 1, 4, 1, 5], [3, 0, 3, 1, PAD, PAD]]
    assert targets.tolist() == [
        [PAD, PAD, 1, 1, PAD, PAD],
        [PAD, PAD, 1, 4, 1, 5],
        [PAD, PAD, 3, 1, PAD, PAD],
    ]
    short_codes, short_targets = sequences.batch(np.array([4, 0]))  # two-item sequences only
    assert short_codes.tolist() == [[3, 0, 3, 1], [1, 0, 1, 1]]
    assert short_targets.tolist() == [[PAD, PAD, 3, 1], [PAD, PAD, 1, 1]]


def test_fold_examples_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="no training examples"):
        fold_examples(examples({}, max_history=2), 2, 2)
    with pytest.raises(ValueError, match="longer than max_history"):
        fold_examples(examples({1: 5}, max_history=3), 2, max_history=2)
    with pytest.raises(ValueError, match="3 tokens"):
        fold_examples(examples({1: 5}, max_history=2), 3, max_history=2)


# -- epoch batches ----------------------------------------------------------------------------


def random_sequences(count: int, seed: int = 0, tokens_per_item: int = 2) -> Sequences:
    rng = np.random.default_rng(seed)
    items = torch.from_numpy(rng.integers(2, 5, size=count))
    codes = torch.full((count, 4 * tokens_per_item), PAD, dtype=torch.long)
    for row, n in enumerate(items.tolist()):
        codes[row, : n * tokens_per_item] = torch.from_numpy(
            rng.integers(0, 4, n * tokens_per_item)
        )
    return Sequences(codes, items, tokens_per_item, torch.arange(count), torch.arange(count))


def test_a_window_s_batches_are_a_shuffle_of_all_its_sequences_determined_by_the_rng() -> None:
    sequences = random_sequences(300)

    first = sequences.shuffled_batches(np.random.default_rng([7, 0]), batch_size=2)
    again = sequences.shuffled_batches(np.random.default_rng([7, 0]), batch_size=2)
    assert [b.tolist() for b in first] == [b.tolist() for b in again]
    other = sequences.shuffled_batches(np.random.default_rng([7, 1]), batch_size=2)
    assert [b.tolist() for b in other] != [b.tolist() for b in first]
    assert len(first) == 150 and all(len(b) == 2 for b in first)
    assert sorted(np.concatenate(first).tolist()) == list(range(300))
    # Grouped by length within windows of SORT_WINDOW batches: few lengths per batch.
    spread = [np.ptp(sequences.items.numpy()[b]) for b in first]
    assert np.mean(spread) < 1


def test_warmup_cosine_shape() -> None:
    multiplier = warmup_cosine(warmup_steps=10, total_steps=100, min_ratio=0.1)

    assert [multiplier(s) for s in range(10)] == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert multiplier(9) == multiplier(10) == 1.0
    after = [multiplier(s) for s in range(10, 101)]
    assert all(b < a for a, b in itertools.pairwise(after)), "strictly decreasing"
    assert multiplier(100) == pytest.approx(0.1)
    assert multiplier(55) == pytest.approx(0.1 + 0.9 * 0.5)  # halfway through the decay
    assert multiplier(500) == pytest.approx(0.1), "stays at the floor"
    assert warmup_cosine(0, 10, 0.0)(0) == 1.0


def test_a_short_run_warms_up_for_its_share_of_steps_and_then_decays() -> None:
    # The demo's shape: 186 steps with a 200-step warmup would end at the peak rate.
    warmup = capped_warmup(warmup_steps=200, total_steps=186, max_share=0.1)
    multiplier = warmup_cosine(warmup, total_steps=186, min_ratio=0.05)

    assert warmup == 18
    assert multiplier(17) == 1.0 and multiplier(185) < 0.06
    assert capped_warmup(800, 11_070, 0.1) == 800  # a long run keeps its warmup
    assert capped_warmup(200, 5, 0.1) == 1 and capped_warmup(0, 5, 0.1) == 0


# -- checkpoints ------------------------------------------------------------------------------

POLICY = PolicyConfig(
    (4, 4), 3, n_layer=1, n_head=2, d_model=16, dropout=0.2, prefix_buckets=32, prefix_dropout=0.2
)


def settings(**update: object) -> TrainConfig:
    defaults = {
        "epochs": 3,
        "batch_size": 8,
        "learning_rate": 1e-2,
        "warmup_steps": 2,
        "checkpoint_every": 5,
        "log_every": 1,
        "seed": 5,
        "device": "cpu",
    }
    return TrainConfig().model_copy(update={**defaults, **update})


def saved_run(root: Path) -> tuple[PolicyRun, Policy, torch.optim.Optimizer]:
    """A run with checkpoints at steps 1 and 2 (one optimizer step each, so AdamW has state)."""
    torch.manual_seed(0)
    policy = Policy(POLICY)
    optimizer = adamw(policy, settings(), settings().learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(2, 10, 0.1))
    run = PolicyRun(LocalStorage(root), DS, SFT_KEY)
    sequences = random_sequences(8)
    for step in (1, 2):
        codes, targets = sequences.batch(np.arange(8))
        NextItemNLL(policy)(codes, targets, (targets != PAD).sum().item()).backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        run.save(policy, optimizer, scheduler, CPU.rng_states(), TrainingState(step, 0, step))
    return run, policy, optimizer


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    run, policy, original = saved_run(tmp_path)

    assert run.checkpoint_steps() == [1, 2]
    loaded = run.load_policy(2)
    assert not loaded.training
    assert loaded.config == policy.config
    expected = policy.state_dict()
    assert loaded.state_dict().keys() == expected.keys()
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, expected[name]), name
    # The trainer's part: AdamW moments and the position come back as saved.
    fresh = Policy(POLICY)
    checkpoint = run.load(2, fresh)
    assert checkpoint.state == TrainingState(2, 0, 2, [])
    assert_same_weights(fresh, policy)
    optimizer = adamw(fresh, settings(), settings().learning_rate)
    optimizer.load_state_dict(checkpoint.optimizer)
    assert optimizer.state_dict()["state"].keys() == original.state_dict()["state"].keys()
    for index, moments in original.state_dict()["state"].items():
        for name, value in moments.items():
            assert torch.equal(optimizer.state_dict()["state"][index][name], value), name
    assert checkpoint.rng.keys() == {"rank0.cpu"}


@pytest.mark.parametrize("name", [MODEL_FILE, TRAINER_FILE, STATE_FILE])
def test_a_flipped_byte_in_any_checkpoint_file_is_refused_naming_the_file(
    tmp_path: Path, name: str
) -> None:
    run, _, _ = saved_run(tmp_path)
    path = tmp_path / run.checkpoint_key(2) / name
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01  # one bit near the end
    path.write_bytes(bytes(data))

    with pytest.raises(ArtifactIntegrityError, match=rf"{name}: sha256 .* recorded"):
        run.load(2, Policy(POLICY))
    with pytest.raises(ArtifactIntegrityError, match=name):
        run.checkpoint_info(2)
    run.load_policy(1)  # the other checkpoint is untouched


def test_a_checkpoint_of_an_older_model_format_asks_for_retraining(tmp_path: Path) -> None:
    run, _, _ = saved_run(tmp_path)
    state = tmp_path / run.checkpoint_key(2) / STATE_FILE
    document = json.loads(state.read_text())
    document["policy"]["format"] = POLICY_FORMAT - 1
    state.write_bytes(json.dumps(document).encode())
    manifest_path = tmp_path / run.checkpoint_key(2) / partitions.MANIFEST
    manifest = json.loads(manifest_path.read_text())  # published that way, checksums and all
    manifest["sha256"][STATE_FILE] = hashlib.sha256(state.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))

    older = rf"format {POLICY_FORMAT - 1} .*`adagrpo train --restart`"
    with pytest.raises(ValueError, match=older):
        run.load_policy(2)


def test_uncommitted_checkpoint_is_not_listed(tmp_path: Path) -> None:
    run, _, _ = saved_run(tmp_path)
    (tmp_path / run.checkpoint_key(2) / partitions.MANIFEST).unlink()

    assert run.checkpoint_steps() == [1]
    with pytest.raises(partitions.PartitionNotPublished):
        run.load_policy(2)


def test_objective_sums_the_workers_shards_to_the_batch_mean() -> None:
    """Under DDP the workers' losses, averaged as DDP averages gradients, are the mean NLL per
    token of the whole batch, even when a worker's shard is empty."""
    torch.manual_seed(0)
    objective = NextItemNLL(Policy(POLICY).eval())  # eval: no dropout, for the comparison
    codes, targets = random_sequences(3).batch(np.arange(3))
    mean = torch.nn.functional.cross_entropy(
        objective.policy.forward_sequences(codes).flatten(0, 1), targets.flatten(), ignore_index=PAD
    )
    world = 4  # 3 sequences over 4 workers: the last worker gets none
    normalizer = (targets != PAD).sum().item() / world
    shards = [objective(codes[r::world], targets[r::world], normalizer) for r in range(world)]
    assert shards[3].item() == 0.0
    torch.testing.assert_close(sum(shards) / world, mean)


# -- the training loop ------------------------------------------------------------------------


def patterned_sequences(count: int = 48, seed: int = 0) -> Sequences:
    """Sequences whose next item follows from the previous one, so there is something to learn:
    item (a, b) is followed by ((a + 1) % 4, (a + b) % 4)."""
    rng = np.random.default_rng(seed)
    items = torch.from_numpy(rng.integers(2, POLICY.max_sequence_items + 1, size=count))
    codes = torch.full((count, POLICY.max_sequence_items * 2), PAD, dtype=torch.long)
    for row, n in enumerate(items.tolist()):
        a, b = (int(x) for x in rng.integers(0, 4, size=2))
        for i in range(n):
            codes[row, 2 * i : 2 * i + 2] = torch.tensor([a, b])
            a, b = (a + 1) % 4, (a + b) % 4
    return Sequences(codes, items, 2, torch.arange(count), torch.arange(count))


def spooled(
    sequences: Sequences, folder: Path, batch_size: int, window_sequences: int | None = None
) -> SequenceStream:
    """``sequences`` as the trainer streams them: chunks of one batch each, so that a small
    ``window_sequences`` makes several windows; by default one window holds them all."""
    folder.mkdir(parents=True, exist_ok=True)
    window = window_sequences or len(sequences)
    return SequenceStream.write([sequences], folder, batch_size, window, chunk_batches=1)


def train(
    root: Path, seed: int = 0, window: int | None = None, **update: object
) -> tuple[Policy, TrainingState, PolicyRun]:
    torch.manual_seed(seed)
    policy = Policy(POLICY)
    run = PolicyRun(LocalStorage(root), DS, SFT_KEY)
    chosen = settings(**update)
    sequences = spooled(patterned_sequences(), root / "spool", chosen.batch_size, window)
    budget = Budget.supervised(chosen, sequences)
    state = train_policy(policy, sequences, chosen, budget, Objective.supervised(policy), run, CPU)
    return policy, state, run


def assert_same_weights(a: Policy, b: Policy) -> None:
    left, right = a.state_dict(), b.state_dict()
    assert left.keys() == right.keys()
    for name in left:
        assert torch.equal(left[name], right[name]), name


def test_training_lowers_the_loss(tmp_path: Path) -> None:
    _, state, run = train(tmp_path, epochs=6, learning_rate=2e-2)

    assert state.step == 36  # 48 sequences / 8 a batch = 6 steps an epoch, 6 epochs
    assert (state.epoch, state.batch) == (6, 0)
    assert run.checkpoint_steps() == [5, 10, 15, 20, 25, 30, 35, 36]  # every 5 and the last
    losses = [record["loss"] for record in state.metrics]
    assert len(losses) == 36 and all(math.isfinite(loss) for loss in losses)
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
    assert state.metrics[-1]["lr"] == pytest.approx(2e-2 * settings().min_lr_ratio)


@pytest.mark.parametrize(
    ("ema_decay", "window"), [(0.0, None), (0.9, None), (0.0, 16)], ids=["", "ema", "streamed"]
)
def test_resume_from_a_checkpoint_is_exact(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, ema_decay: float, window: int | None
) -> None:
    # window 16: the 48 sequences stream through 3 windows of 2 one-batch chunks; step 10 is
    # the 4th batch of the second epoch, in its second window.
    uninterrupted, state, run = train(tmp_path / "a", ema_decay=ema_decay, window=window)
    # The run "killed" after step 10: only the checkpoints up to it survive.
    checkpoints = Path(run.prefix, "checkpoints")
    shutil.copytree(tmp_path / "a" / checkpoints, tmp_path / "b" / checkpoints)
    for step in (15, 18):
        shutil.rmtree(tmp_path / "b" / run.checkpoint_key(step))

    with caplog.at_level(logging.INFO, logger=loop.__name__):
        # Another seed: the initial weights and the RNG must all come from the checkpoint.
        resumed, resumed_state, resumed_run = train(
            tmp_path / "b", seed=99, window=window, ema_decay=ema_decay
        )

    assert "resuming from" in caplog.text and "step-000000010" in caplog.text
    assert resumed_state.step == state.step
    assert resumed_run.checkpoint_steps() == [5, 10, 15, 18]
    assert_same_weights(resumed, uninterrupted)
    assert [m["loss"] for m in resumed_state.metrics] == [m["loss"] for m in state.metrics]
    assert (tmp_path / "a" / run.checkpoint_key(18) / MODEL_FILE).read_bytes() == (
        tmp_path / "b" / run.checkpoint_key(18) / MODEL_FILE
    ).read_bytes()


def test_checkpoints_publish_the_moving_average_of_the_trained_weights(tmp_path: Path) -> None:
    decay = 0.9
    policy, state, run = train(tmp_path, ema_decay=decay, checkpoint_every=1)

    def trained(step: int) -> Policy:
        trained, average = Policy(POLICY), Policy(POLICY)
        run.load(step, trained, average)
        return trained

    # The average starts as a copy of the first step's weights, then moves 1 - decay a step.
    average = trained(1).state_dict()
    for step in range(1, state.step + 1):
        weights = trained(step).state_dict()
        average = {name: decay * v + (1 - decay) * weights[name] for name, v in average.items()}
        published = run.load_policy(step).state_dict()  # what evaluation scores
        for name, value in average.items():
            torch.testing.assert_close(published[name], value, msg=f"step {step}: {name}")
    # The loop's policy is the trained one, not the average.
    assert_same_weights(policy, trained(state.step))
    assert not torch.equal(policy.head.weight, run.load_policy(state.step).head.weight)


def test_resuming_needs_the_averaging_setting_the_run_was_saved_with(tmp_path: Path) -> None:
    run, _, _ = saved_run(tmp_path)

    with pytest.raises(ValueError, match=r"saved without a weight average.*--restart"):
        run.load(2, Policy(POLICY), Policy(POLICY))


def test_resume_without_the_rng_state_is_not_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control for the exact-resume test: with dropout, the RNG state matters."""
    uninterrupted, _, run = train(tmp_path / "a")
    shutil.copytree(tmp_path / "a" / run.prefix, tmp_path / "b" / run.prefix)
    for step in (15, 18):
        shutil.rmtree(tmp_path / "b" / run.checkpoint_key(step))
    monkeypatch.setattr(Workers, "restore_rng", lambda self, states: False)

    resumed, _, _ = train(tmp_path / "b", seed=99)
    assert not all(
        torch.equal(a, b)
        for a, b in zip(
            resumed.state_dict().values(), uninterrupted.state_dict().values(), strict=True
        )
    )


def test_a_finished_run_is_not_trained_further(tmp_path: Path) -> None:
    trained, state, run = train(tmp_path)
    again, again_state, _ = train(tmp_path, seed=3)

    assert again_state.step == state.step
    assert_same_weights(again, trained)
    assert run.checkpoint_steps() == [5, 10, 15, 18]
