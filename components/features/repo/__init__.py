"""The pipeline's Feast feature repository: definitions and the store configuration."""
