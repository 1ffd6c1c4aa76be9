"""The service assembled from configuration: the registry, the experiment, the arms."""

from __future__ import annotations

from fastapi import FastAPI

from components.core.config import RegistryConfig, ServingConfig
from components.registry.experiments import read_experiment
from components.registry.store import ModelRegistry
from components.serving.app import create_app
from components.serving.arms import Arms


def build_app(
    registry_config: RegistryConfig, settings: ServingConfig, experiment_id: str | None
) -> FastAPI:
    registry = ModelRegistry.open(registry_config)
    experiment = read_experiment(registry, experiment_id) if experiment_id else None
    followed = (
        {arm: entry["alias"] for arm, entry in experiment["arms"].items()}
        if experiment
        else {"control": "champion"}
    )
    return create_app(Arms(registry, followed, settings.refresh_s), experiment, settings)
