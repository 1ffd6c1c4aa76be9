"""Serving: the registry's models behind HTTP, users split between the arms of an A/B test."""
