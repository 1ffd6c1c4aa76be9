"""Stage 5: semantic-ID training sets (per-user chronological sequences, split, tokenized)."""
