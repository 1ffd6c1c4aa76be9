"""Training across nodes: the settings with which every node's torchrun meets the others.

The trainer image's launcher (``docker/trainer/launch``) starts torchrun from these variables,
one worker per GPU of its node. The kubernetes runner's indexed Job sets them on each pod, and
the two-"node" loopback run sets them on two local processes. The node of index 0 hosts the
c10d rendezvous store, so the endpoint must name that node.
"""

from __future__ import annotations

RENDEZVOUS_PORT = 29400  # torchrun's default for c10d
NODE_INDEX = "JOB_COMPLETION_INDEX"  # what an indexed Job sets on each pod


def rendezvous_environment(nodes: int, endpoint: str, run_id: str) -> dict[str, str]:
    """The variables of a run on ``nodes`` nodes that meet at ``endpoint`` (``host:port`` of
    node 0); ``run_id`` keeps two runs that share an endpoint apart. Each node also needs its
    own ``NODE_INDEX``."""
    if nodes < 2:
        raise ValueError(f"a rendezvous needs at least 2 nodes, not {nodes}")
    return {
        "PET_NNODES": str(nodes),
        "PET_RDZV_BACKEND": "c10d",
        "PET_RDZV_ENDPOINT": endpoint,
        "PET_RDZV_ID": run_id,
    }
