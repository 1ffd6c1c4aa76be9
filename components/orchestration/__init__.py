"""How the DAG reaches the stages: one runner abstraction, one function per DAG task."""
