"""The generative policy: a decoder-only transformer over semantic-ID tokens (``model``), batched
beam search, rollout sampling and teacher-forced log-probs (``generation``), and the catalog trie
that constrains decoding to real items (``trie``)."""
