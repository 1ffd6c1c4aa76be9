"""Blessing: the selected candidate against absolute floors and the current champion."""
