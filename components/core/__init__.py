"""Shared plumbing: typed configuration, storage, data layout, Spark sessions, progress."""
