"""Housekeeping of the storage root: the leftovers of killed runs."""
