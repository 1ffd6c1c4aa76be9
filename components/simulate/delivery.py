"""At-least-once, sometimes late delivery of the logs, as the extract stage must expect it.

A request's events are late together (a client uploads a slate as one batch): they keep their
timestamps but arrive in the next day's partition. Single events are re-delivered (same
event_id, same content) in the partition they arrived in or in the next one. All decisions are
hashes of ids, so they do not depend on how a day was cut into chunks. On the last simulated day
there is no next partition: its late events and re-deliveries arrive the same day.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from components.simulate.determinism import hash_unit

_LATE_SALT, _DUPLICATE_SALT, _REDELIVERY_DAY_SALT = 0x1A7E, 0xD0B1, 0xDA7


@dataclass(frozen=True)
class DeliveryFaults:
    late_request_rate: float = 0.005
    duplicate_rate: float = 0.003


@dataclass(frozen=True)
class Delivery:
    today: pa.Table
    next_day: pa.Table
    late: int  # events that arrive a day late
    duplicates: int  # extra copies of events


def deliver(events: pa.Table, faults: DeliveryFaults, has_next_day: bool) -> Delivery:
    """Split a chunk of one day's events into what arrives that day and the day after."""
    request_ids = events["request_id"].to_numpy()
    event_ids = events["event_id"].to_numpy()
    late = hash_unit(request_ids, _LATE_SALT) < faults.late_request_rate
    duplicate = hash_unit(event_ids, _DUPLICATE_SALT) < faults.duplicate_rate
    # A copy never arrives before its original.
    copy_next_day = duplicate & (late | (hash_unit(event_ids, _REDELIVERY_DAY_SALT) < 0.5))
    if not has_next_day:
        late[:] = copy_next_day[:] = False
    return Delivery(
        today=pa.concat_tables([events.filter(~late), events.filter(duplicate & ~copy_next_day)]),
        next_day=pa.concat_tables([events.filter(late), events.filter(copy_next_day)]),
        late=int(late.sum()),
        duplicates=int(duplicate.sum()),
    )
