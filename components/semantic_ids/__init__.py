"""Semantic IDs: item vectors -> residual quantization -> a unique, versioned code per item.

Other stages read the published item <-> SID map through :mod:`components.semantic_ids.api`.
"""
