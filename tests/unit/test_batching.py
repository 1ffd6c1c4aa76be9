"""Dynamic micro-batching: concurrent requests decoded together, within the batch bound, large
requests split so they take turns, each request given exactly its own lists, a full queue
refused with how long to wait."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from components.serving.batching import Lists, MicroBatcher, QueueFull


class RecordingDecoder:
    """Answers each history with [its first item, k]; records every beam search it ran."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.calls: list[tuple[str, int, list[int]]] = []  # (arm, k, first items)
        self.seconds = seconds
        self.lock = threading.Lock()

    def __call__(self, arm: str, histories: Sequence[Sequence[int]], k: int) -> tuple[Lists, int]:
        time.sleep(self.seconds)
        with self.lock:
            self.calls.append((arm, k, [h[0] for h in histories]))
        return [[h[0], k] for h in histories], 7


async def submit_all(
    batcher: MicroBatcher, requests: list[tuple[str, list[list[int]], int]]
) -> list[tuple[Lists, int]]:
    batcher.start()
    try:
        return await asyncio.gather(*(batcher.recommend(*request) for request in requests))
    finally:
        await batcher.stop()


def test_concurrent_requests_are_decoded_together_within_the_bound() -> None:
    decoder = RecordingDecoder(seconds=0.01)
    batcher = MicroBatcher(decoder, batch_users=8, wait_s=0.05, queue_users=1000, enabled=True)
    requests = [("control", [[user]], 10) for user in range(20)]

    answers = asyncio.run(submit_all(batcher, requests))

    assert answers == [([[user, 10]], 7) for user in range(20)]  # each its own list
    sizes = [len(users) for _, _, users in decoder.calls]
    assert sum(sizes) == 20 and max(sizes) <= 8 and len(sizes) < 20


def test_without_micro_batching_each_request_is_decoded_alone() -> None:
    decoder = RecordingDecoder()
    batcher = MicroBatcher(decoder, batch_users=8, wait_s=0.05, queue_users=1000, enabled=False)
    asyncio.run(submit_all(batcher, [("control", [[user]], 10) for user in range(5)]))
    assert [len(users) for _, _, users in decoder.calls] == [1] * 5


def test_arms_are_decoded_apart_and_each_request_gets_its_k() -> None:
    decoder = RecordingDecoder()
    batcher = MicroBatcher(decoder, batch_users=64, wait_s=0.05, queue_users=1000, enabled=True)
    requests = [("control", [[1]], 3), ("treatment", [[2]], 5), ("control", [[3]], 10)]

    answers = asyncio.run(submit_all(batcher, requests))

    assert {arm for arm, _, _ in decoder.calls} == {"control", "treatment"}
    assert all(len({arm}) == 1 for arm, _, _ in decoder.calls)
    # One beam search at the largest k of the batch, each list cut to the request's own k.
    assert answers[0] == ([[1, 10][:3]], 7) and answers[2] == ([[3, 10]], 7)


def test_a_large_request_is_split_and_takes_turns_with_the_others() -> None:
    decoder = RecordingDecoder(seconds=0.02)
    batcher = MicroBatcher(decoder, batch_users=16, wait_s=0.0, queue_users=1000, enabled=True)

    async def large_then_small() -> tuple[tuple[Lists, int], tuple[Lists, int]]:
        batcher.start()
        try:
            large = asyncio.ensure_future(
                batcher.recommend("control", [[user] for user in range(100)], 10)
            )
            await asyncio.sleep(0.03)  # the large request is being decoded
            small = await batcher.recommend("control", [[1000]], 10)
            assert not large.done()  # the small one did not wait for all of the large one
            return await large, small
        finally:
            await batcher.stop()

    large, small = asyncio.run(large_then_small())
    assert large[0] == [[user, 10] for user in range(100)] and small[0] == [[1000, 10]]
    assert max(len(users) for _, _, users in decoder.calls) <= 16


def test_a_full_queue_refuses_at_once_with_the_time_to_drain() -> None:
    decoder = RecordingDecoder(seconds=0.2)
    batcher = MicroBatcher(decoder, batch_users=4, wait_s=0.0, queue_users=10, enabled=True)

    async def overflow() -> QueueFull:
        batcher.start()
        try:
            waiting = asyncio.ensure_future(
                batcher.recommend("control", [[u] for u in range(10)], 10)
            )
            await asyncio.sleep(0.01)
            with pytest.raises(QueueFull) as refused:
                await batcher.recommend("control", [[99]], 10)
            await waiting  # what was queued is still answered
            return refused.value
        finally:
            await batcher.stop()

    refused = asyncio.run(overflow())
    assert refused.retry_after_s >= 1 and "retry after" in str(refused)


def test_a_failed_decode_fails_its_requests_and_the_worker_goes_on() -> None:
    calls = []

    def flaky(arm: str, histories: Sequence[Sequence[int]], k: int) -> tuple[Lists, int]:
        calls.append(arm)
        if arm == "broken":
            raise RuntimeError("no model")
        return [[h[0]] for h in histories], 1

    batcher = MicroBatcher(flaky, batch_users=8, wait_s=0.0, queue_users=100, enabled=True)

    async def both() -> tuple[BaseException | tuple[Lists, int], ...]:
        batcher.start()
        try:
            return tuple(
                await asyncio.gather(
                    batcher.recommend("broken", [[1]], 1),
                    batcher.recommend("control", [[2]], 1),
                    return_exceptions=True,
                )
            )
        finally:
            await batcher.stop()

    failed, answered = asyncio.run(both())
    assert isinstance(failed, RuntimeError) and answered == ([[2]], 1)
