"""Every behavioural knob of the simulated shop in one place (a scale only sets sizes)."""

from __future__ import annotations

from dataclasses import dataclass, field

from components.simulate.delivery import DeliveryFaults
from components.simulate.feedback import FeedbackModel
from components.simulate.logging_policy import PolicyParams
from components.simulate.world import WorldParams


@dataclass(frozen=True)
class ShopParams:
    world: WorldParams = field(default_factory=WorldParams)
    policy: PolicyParams = field(default_factory=PolicyParams)
    feedback: FeedbackModel = field(default_factory=FeedbackModel)
    delivery: DeliveryFaults = field(default_factory=DeliveryFaults)


DEFAULT_SHOP = ShopParams()
