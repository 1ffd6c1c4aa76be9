"""``adagrpo simulate``: write a synthetic shop's raw logs, catalog and hidden truth.

Days are generated one after another and streamed in chunks, so memory does not grow with the
number of days or events. Each day's partitions are published atomically when the day is done.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from components.core.progress import Progress
from components.core.storage import Storage
from components.simulate.catalog import catalog_table, snapshot
from components.simulate.delivery import Delivery, DeliveryFaults, deliver
from components.simulate.exposures import ExposureGenerator
from components.simulate.feedback import FeedbackModel
from components.simulate.logging_policy import PolicyParams
from components.simulate.publishing import exposure_writer, publish_catalog
from components.simulate.scales import Scale
from components.simulate.served import ServedSlates, UserHistories
from components.simulate.truth import publish_truth
from components.simulate.world import WorldParams, build_world

log = logging.getLogger("adagrpo.simulate")
PRODUCER = "simulate"


@dataclass(frozen=True)
class ShopParams:
    """Every behavioural knob of the simulated shop in one place (a scale only sets sizes)."""

    world: WorldParams = field(default_factory=WorldParams)
    policy: PolicyParams = field(default_factory=PolicyParams)
    feedback: FeedbackModel = field(default_factory=FeedbackModel)
    delivery: DeliveryFaults = field(default_factory=DeliveryFaults)


@dataclass
class SimulationSummary:
    days: int = 0
    events: int = 0  # distinct exposure events
    rows: int = 0  # rows written: events plus re-delivered copies
    clicks: int = 0
    purchases: int = 0
    late: int = 0
    duplicates: int = 0
    seconds: float = 0.0

    def add(self, events: pa.Table, delivery: Delivery) -> None:
        self.events += events.num_rows
        self.rows += events.num_rows + delivery.duplicates
        self.clicks += pc.sum(events["clicked"]).as_py() or 0
        self.purchases += pc.sum(events["purchased"]).as_py() or 0
        self.late += delivery.late
        self.duplicates += delivery.duplicates

    @property
    def ctr(self) -> float:
        return self.clicks / self.events if self.events else 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def simulate(
    storage: Storage,
    scale: Scale,
    *,
    seed: int,
    start: date,
    days: int | None = None,
    first_day: int = 0,
    params: ShopParams = ShopParams(),
    serve_url: str | None = None,
    history_items: int = 20,
) -> SimulationSummary:
    """Simulate ``days`` days (default: the scale's) of the shop that opened on ``start``,
    from ``first_day`` days after the opening on, and publish every partition.

    A day is regenerated from its own random streams, so its partitions come out the same from
    any run that writes it, except from a run that ends on it: there its late events arrive on
    time, for want of a next partition. A run that begins after the opening regenerates the day
    before it to deliver that day's late events into its first partition. The truth is only
    rewritten by a run that reaches further than the published one (see ``truth``).

    With ``serve_url`` the slates come from ``adagrpo serve`` (``served.py``), for histories of
    up to ``history_items`` positives from the logs before the first simulated day.
    """
    started = time.perf_counter()
    days = days or scale.days
    horizon = first_day + days
    world = build_world(scale, seed, start, horizon, params.world)
    publish_truth(storage, world, horizon, asdict(params), PRODUCER)
    catalog = catalog_table(world)
    service = None
    if serve_url is not None:
        histories = UserHistories.from_logs(storage, start + timedelta(first_day), history_items)
        service = ServedSlates(
            serve_url,
            histories,
            world.users.ids,
            len(world.items.category),
            params.policy.slate_size,
        )
    generator = ExposureGenerator(
        world, params.policy, params.feedback, scale.chunk_events, service
    )
    progress = Progress(
        "simulate", total=round(generator.expected_events_per_day * days), unit="events"
    )
    summary = SimulationSummary(days=days)
    today = exposure_writer(storage, start + timedelta(first_day), PRODUCER)
    if first_day:
        for events in generator.day_chunks(first_day - 1):
            today.write(deliver(events, params.delivery, has_next_day=True).next_day)
    for day in range(first_day, horizon):
        dt = start + timedelta(day)
        publish_catalog(storage, dt, snapshot(catalog, world, day), PRODUCER)
        last_day = day + 1 == horizon
        tomorrow = None if last_day else exposure_writer(storage, dt + timedelta(1), PRODUCER)
        for events in generator.day_chunks(day):
            delivery = deliver(events, params.delivery, has_next_day=not last_day)
            today.write(delivery.today)
            if tomorrow:
                tomorrow.write(delivery.next_day)
            summary.add(events, delivery)
            progress.advance(events.num_rows)
        today.publish()
        if tomorrow:
            today = tomorrow
    progress.finish()
    summary.seconds = time.perf_counter() - started
    log.info(
        "simulated %d days from %s: %s events (%s rows with re-deliveries, %s late), "
        "CTR %.2f%%, %s purchases, %.0f events/s",
        days, start + timedelta(first_day), f"{summary.events:,}", f"{summary.rows:,}",
        f"{summary.late:,}", 100 * summary.ctr, f"{summary.purchases:,}",
        summary.events_per_second,
    )  # fmt: skip
    return summary
