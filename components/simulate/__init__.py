"""Synthetic shop logs (simulate) and semi-synthetic logs from real sequences (replay)."""
