"""Dynamic micro-batching: the users of concurrent requests decoded in one beam search.

Requests wait in a bounded queue. One worker takes the oldest, then gathers whatever else
arrives within ``wait_s``, up to ``batch_users`` users, and decodes them together, one beam
search per arm, off the event loop (a single decoding thread: torch already uses every core).
A request larger than a batch is split, and its next part joins the back of the queue only
once the part before it is decoded, so that it takes turns with the others instead of stalling
them. When the queue holds ``queue_users`` users, a new request is refused at once
(``QueueFull``) with how long the queue needs to drain.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

Lists = list[list[int]]
# decode(arm, histories, k) -> (the top-k item ids of each history, the version that decoded)
Decode = Callable[[str, Sequence[Sequence[int]], int], tuple[Lists, int]]


class QueueFull(Exception):
    """The queue is full: try again after ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the decoding queue is full; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass
class _Job:
    arm: str
    histories: Sequence[Sequence[int]]
    k: int
    done: asyncio.Future[tuple[Lists, int]] = field(repr=False)
    then: _Job | None = None  # the request's next part, queued once this one is decoded


class MicroBatcher:
    def __init__(
        self, decode: Decode, batch_users: int, wait_s: float, queue_users: int, enabled: bool
    ) -> None:
        """``enabled`` False decodes each request alone, in turn (the baseline)."""
        self.decode, self.batch_users, self.wait_s = decode, batch_users, wait_s
        self.queue_users, self.enabled = queue_users, enabled
        self.queued = 0  # users waiting
        self.users_per_s = float(batch_users)  # the decoding rate, measured as it goes
        self._jobs: asyncio.Queue[_Job] = asyncio.Queue()
        self._held: _Job | None = None  # a job that did not fit the last batch
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="decode")
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._thread.shutdown(wait=True)

    async def recommend(
        self, arm: str, histories: Sequence[Sequence[int]], k: int
    ) -> tuple[Lists, int]:
        """The top ``k`` of each history from ``arm``'s model, and the version that answered;
        ``QueueFull`` when the queue cannot take these users now."""
        if not histories:
            raise ValueError("nothing to decode: no histories")
        if self.queued and self.queued + len(histories) > self.queue_users:
            raise QueueFull(max(1, math.ceil(self.queued / self.users_per_s)))
        size = self.batch_users if self.enabled else max(len(histories), 1)
        loop = asyncio.get_running_loop()
        jobs = [
            _Job(arm, histories[start : start + size], k, loop.create_future())
            for start in range(0, len(histories), size)
        ]
        for job, after in itertools.pairwise(jobs):
            job.then = after
        self.queued += len(histories)
        self._jobs.put_nowait(jobs[0])
        answers = await asyncio.gather(*(job.done for job in jobs))
        lists = [items for chunk, _ in answers for items in chunk]
        return lists, answers[-1][1]

    async def _work(self) -> None:
        while True:
            batch = await self._gather()
            started = time.perf_counter()
            users = sum(len(job.histories) for job in batch)
            for arm in dict.fromkeys(job.arm for job in batch):
                await self._decode([job for job in batch if job.arm == arm])
            self.queued -= users
            elapsed = time.perf_counter() - started
            if elapsed > 0:  # an exponential average of the rate, for Retry-After
                self.users_per_s = 0.8 * self.users_per_s + 0.2 * users / elapsed

    async def _gather(self) -> list[_Job]:
        """The next batch: the oldest job, and what joins it within ``wait_s``."""
        first = self._held or await self._jobs.get()
        self._held = None
        batch, users = [first], len(first.histories)
        if not self.enabled:
            return batch
        deadline = asyncio.get_running_loop().time() + self.wait_s
        while users < self.batch_users:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                job = (
                    self._jobs.get_nowait()
                    if remaining <= 0
                    else await asyncio.wait_for(self._jobs.get(), remaining)
                )
            except (asyncio.QueueEmpty, TimeoutError):
                break
            if users + len(job.histories) > self.batch_users:
                self._held = job
                break
            batch.append(job)
            users += len(job.histories)
        return batch

    async def _decode(self, jobs: list[_Job]) -> None:
        """One beam search for the jobs of one arm, at the largest k they ask for."""
        histories = [history for job in jobs for history in job.histories]
        k = max(job.k for job in jobs)
        loop = asyncio.get_running_loop()
        try:
            lists, version = await loop.run_in_executor(
                self._thread, self.decode, jobs[0].arm, histories, k
            )
        except Exception as failed:  # the requests fail, the worker goes on
            for job in jobs:
                self._fail(job, failed)
            return
        start = 0
        for job in jobs:
            chunk = [items[: job.k] for items in lists[start : start + len(job.histories)]]
            start += len(job.histories)
            if not job.done.done():  # a client that went away leaves a cancelled future
                job.done.set_result((chunk, version))
            if job.then is not None:
                self._jobs.put_nowait(job.then)

    def _fail(self, job: _Job, failed: Exception) -> None:
        """Fail ``job`` and the parts of its request still to come (they leave the queue)."""
        part: _Job | None = job
        while part is not None:
            if not part.done.done():
                part.done.set_exception(failed)
            if part is not job:
                self.queued -= len(part.histories)
            part = part.then
