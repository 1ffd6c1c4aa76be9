"""A day of the synthetic shop as a stream of exposure chunks, each from its own random stream."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pyarrow as pa

from components.simulate.determinism import Stream, epoch_us, rng_for
from components.simulate.events import SlateLog
from components.simulate.feedback import FeedbackModel
from components.simulate.logging_policy import PolicyParams, ProductionPolicy, affinity_estimate
from components.simulate.sampling import WeightedSampler
from components.simulate.served import ServedSlates
from components.simulate.traffic import Requests, chunk_count, sample_requests
from components.simulate.world import World

POLICY_BATCH = 4_096  # requests served at once: bounds the memory of candidate pools


class ExposureGenerator:
    def __init__(
        self,
        world: World,
        policy: PolicyParams,
        feedback: FeedbackModel,
        chunk_events: int,
        service: ServedSlates | None = None,
    ) -> None:
        """``service``: slates from ``adagrpo serve`` instead of the production policy."""
        self.world, self.policy, self.feedback = world, policy, feedback
        self.chunk_events, self.service = chunk_events, service
        self.affinity = affinity_estimate(
            rng_for(world.seed, Stream.POLICY),
            world.users.latent,
            world.taxonomy.centroids,
            policy.affinity_noise,
        )
        # Few draws per request: a small table keeps memory low on a million users.
        self.user_sampler = WeightedSampler(world.users.activity, slots_per_index=2)
        self.expected_requests = world.scale.requests_per_day

    @property
    def expected_events_per_day(self) -> float:
        return self.expected_requests * self.policy.slate_size

    def day_chunks(self, day: int) -> Iterator[pa.Table]:
        """Day ``day`` (from start) in time order, about ``chunk_events`` or fewer per chunk."""
        world = self.world
        policy = ProductionPolicy(
            self.policy,
            self.affinity,
            world.items.category,
            world.popularity_on(day),
        )
        dt = world.start + timedelta(days=day)
        chunks = chunk_count(self.expected_events_per_day, self.chunk_events)
        for chunk in range(chunks):
            rng = rng_for(world.seed, Stream.TRAFFIC, day, chunk)
            requests = sample_requests(
                rng, self.user_sampler, self.expected_requests, epoch_us(dt), chunk, chunks
            )
            logs = [self._serve(rng, policy, batch) for batch in requests.batches(POLICY_BATCH)]
            if logs:  # a time slice without any request has nothing to log
                yield SlateLog.concat(logs).to_table(dt, chunk)

    def _serve(
        self, rng: np.random.Generator, policy: ProductionPolicy, requests: Requests
    ) -> SlateLog:
        users, items = self.world.users, self.world.items
        if self.service is None:
            slates = policy.show(rng, requests.users)
        else:
            slates = self.service.show(rng, requests.users, fallback=policy)
        relevance = self.feedback.relevance(
            users.latent[requests.users], items.latent[slates.items], items.quality[slates.items]
        )
        responses = self.feedback.respond(rng, relevance, slates.shown)
        return SlateLog(
            user_ids=users.ids[requests.users],
            ts_us=requests.ts_us,
            surface=requests.surface,
            item_ids=items.ids[slates.items],
            scores=slates.scores,
            shown=slates.shown,
            clicked=responses.clicked,
            purchased=responses.purchased,
            dwell_ms=responses.dwell_ms,
            experiment_id=slates.experiment_id,
            arm=slates.arm,
        )
