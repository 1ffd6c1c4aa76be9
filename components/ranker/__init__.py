"""Stage 6, the ranker: a click model trained on the exposure-biased logs, AdaGRPO's reward.

``adagrpo train-ranker`` trains it on the features stage's rows, evaluates it on the last
exposure day and publishes it under ``models/ranker/dt=<ds>/``; :class:`RankerScorer` serves
it to the trainer.
"""
