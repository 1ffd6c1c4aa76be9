"""The Airflow Assets the retraining DAG updates, for DAGs scheduled on them downstream
(``schedule=[ASSETS["adagrpo_registered_model"]]`` runs after each registration), one per
stage the manifest gives an asset. Each names a lineage, not a location: the day and the place
come from the run's logical date and the config."""

from __future__ import annotations

from airflow.sdk import Asset

from components.stages import STAGES

ASSETS = {stage.asset: Asset(stage.asset) for stage in STAGES.values() if stage.asset}
