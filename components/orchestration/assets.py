"""The Airflow Assets the retraining DAG updates, for DAGs scheduled on them downstream
(``schedule=[REGISTERED_MODEL]`` runs after each registration). Each names a lineage, not a
location: the day and the place come from the run's logical date and the config."""

from __future__ import annotations

from airflow.sdk import Asset

CURATED_EXPOSURES = Asset("adagrpo_curated_exposures")
TRAINING_SETS = Asset("adagrpo_training_sets")
POLICY = Asset("adagrpo_policy")
REGISTERED_MODEL = Asset("adagrpo_registered_model")
