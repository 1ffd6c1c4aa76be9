"""A split's scored users, read from the training set's files a chunk at a time.

Evaluation holds each scored user's id and held-out item (16 bytes a user) and one chunk's
encoded histories, whatever the split's size: the padded histories, the part that grows with
the shop, never exist for the whole split at once. A split that fits in one chunk (a validation
sample) is read once and held; a larger one is read again on each pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa

from components.core.errors import BadInput
from components.datasets.reader import SidDataset
from components.evaluate.decode import EvalSplit, eval_split, sample_rows
from components.policy.model import PolicyConfig

Encode = Callable[[pa.Table], pa.Table]


class StreamedSplit:
    """The users of one split scored by a policy: all, or a fixed seeded sample, in user order.

    ``chunks()`` yields each chunk as an in-memory ``EvalSplit`` with where its users sit in
    ``users``; ``held()`` is the whole of it in one (for a sample that is to be explored).
    """

    def __init__(
        self,
        dataset: SidDataset,
        name: str,
        config: PolicyConfig,
        max_users: int | None,
        chunk_users: int,
        seed: int = 0,
        encode: Encode | None = None,
    ) -> None:
        self.name, self.config, self.chunk_users = name, config, chunk_users
        self._dataset, self._encode = dataset, encode
        users, targets = _users_and_targets(dataset, name)
        order = np.argsort(users, kind="stable")
        users, targets = users[order], targets[order]
        repeated = users[1:][users[1:] == users[:-1]]
        if len(repeated):
            raise BadInput(
                f"the {name} split of the training set of {dataset.ds} holds users "
                f"{np.unique(repeated)[:5].tolist()} more than once; evaluation scores one "
                "held-out item a user: rebuild the training set with `adagrpo build-dataset`"
            )
        if len(users) == 0:
            raise BadInput(
                f"the {name} split of the training set of {dataset.ds} has no users to score"
            )
        keep = sample_rows(len(users), max_users, seed)
        self.users: np.ndarray = users if keep is None else users[keep]
        self.targets: np.ndarray = targets if keep is None else targets[keep]
        self._held: EvalSplit | None = None

    def __len__(self) -> int:
        return len(self.users)

    def chunks(self) -> Iterator[tuple[np.ndarray, EvalSplit]]:
        """(positions in ``users``, those users' examples encoded), about ``chunk_users``
        users at a time, file by file."""
        if len(self) <= self.chunk_users:
            held = self.held()
            yield np.arange(len(self)), held
            return
        for table in self._tables():
            chunk = self._encoded(table)
            yield np.searchsorted(self.users, chunk.users), chunk

    def held(self) -> EvalSplit:
        """Every scored user in one ``EvalSplit``, in user order; read once, then kept."""
        if self._held is None:
            self._held = self._encoded(pa.concat_tables(list(self._tables())))
        return self._held

    def _tables(self) -> Iterator[pa.Table]:
        """The scored users' rows, in tables of at least ``chunk_users`` rows but the last."""
        buffered: list[pa.Table] = []
        rows = 0
        for batches in self._dataset.stream(self.name, batch_rows=self.chunk_users):
            for batch in batches:
                part = self._scored(pa.Table.from_batches([batch]))
                if part.num_rows == 0:
                    continue
                buffered.append(part)
                rows += part.num_rows
                if rows >= self.chunk_users:
                    yield pa.concat_tables(buffered)
                    buffered, rows = [], 0
        if buffered:
            yield pa.concat_tables(buffered)

    def _scored(self, table: pa.Table) -> pa.Table:
        ids = np.asarray(table.column("user_id"), dtype=np.int64)
        at = np.minimum(np.searchsorted(self.users, ids), len(self.users) - 1)
        return table.filter(pa.array(self.users[at] == ids))

    def _encoded(self, table: pa.Table) -> EvalSplit:
        if self._encode is not None:
            table = self._encode(table)
        return eval_split(self.name, table, self.config, max_users=None)


def _users_and_targets(dataset: SidDataset, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Every example's user and held-out item, two columns read file by file."""
    users, targets = [], []
    for batches in dataset.stream(name, columns=["user_id", "target_item_id"]):
        for batch in batches:
            users.append(np.asarray(batch.column("user_id"), dtype=np.int64))
            targets.append(np.asarray(batch.column("target_item_id"), dtype=np.int64))
    if not users:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(users), np.concatenate(targets)
