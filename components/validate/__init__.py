"""Stage 2: Great Expectations checks on curated exposures, and the gate downstream stages use.

Downstream stages import ``components.validate.gate``, which does not load Great Expectations.
"""
