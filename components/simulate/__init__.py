"""Synthetic shop logs (simulate) and semi-synthetic logs from real sequences (replay).

Reading order: ``cli`` (the two commands) -> ``simulator`` (the day loop and every knob) ->
``world`` with ``taxonomy`` and ``vocabulary`` (hidden users and items), ``catalog`` (what the
shop lists) -> ``exposures`` (a day in chunks) with ``traffic`` (requests), ``logging_policy``
(slates), ``feedback`` (responses) and ``events`` (rows) -> ``delivery`` (late and duplicate
arrival) -> ``truth`` and ``publishing`` (what is written). ``replay`` and ``replay_input`` reuse
those parts for real data; ``determinism``, ``sampling`` and ``scales`` are the building blocks.
"""
