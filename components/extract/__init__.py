"""Stage 1: curated, de-duplicated exposures from raw logs, with Spark."""
