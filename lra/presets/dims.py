"""A model's five dimensions as preset entries: one row of a per-mechanism table.

Used by the presets whose released configs size each mechanism differently (paper_image.py,
paper_pathfinder.py) and by lra/presets/released_lra.py, which records the same tables from LRA's files.
Not a preset itself: preset files are named `<preset>_<task>.py`.
"""

from __future__ import annotations


def dims(layers: int, heads: int, emb: int, qkv: int, mlp: int) -> dict[str, int]:
    """`model.num_layers`, `model.num_heads`, `model.emb_dim`, `model.qkv_dim` and `model.mlp_dim`."""
    return {"model.num_layers": layers, "model.num_heads": heads, "model.emb_dim": emb, "model.qkv_dim": qkv,
            "model.mlp_dim": mlp}
