"""Benchmarks behind `make bench`: each module has `run(workdir) -> dict` of measured numbers."""
