"""The features stage: Spark-computed user and item statistics served by Feast.

``compute`` publishes daily snapshots as Feast offline sources, ``feast_repo`` holds the Feast
feature repository (entities, feature views) and applies and materializes it, ``training_rows``
gives the ranker's training exposures their features by point-in-time join; ``stage`` runs the
three for one day, on the days and files ``days`` picks.
"""
