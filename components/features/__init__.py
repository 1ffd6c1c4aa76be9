"""The features stage: Spark-computed user and item statistics served by Feast.

``compute`` publishes daily snapshots as Feast offline sources, ``store`` applies the feature
repository (``repo/``) and materializes the online store, ``training_rows`` gives the ranker's
training exposures their features by point-in-time join; ``stage`` runs the three for one day.
"""
