"""AdaGRPO retraining pipeline: one sub-package per pipeline stage, plus `core`."""
