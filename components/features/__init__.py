"""The features stage: Spark-computed user and item statistics served by Feast.

``compute`` publishes daily snapshots as Feast offline sources, ``feast_repo`` holds the Feast
feature repository (entities, feature views), applies it and loads the online store;
``training_rows`` is the ranker rows' contract, which ``spark_rows`` (Spark) or ``feast_rows``
(Feast's point-in-time join) publish; ``stage`` runs them for one day, on the days and files
``days`` picks.
"""
