"""The text config exactly as released in LRA's text_classification/configs/base_tc_config.py: `paper` with
max_length 1000.

The one preset file built on another: BASE is paper_text.py's BASE with `data.max_length` 1000 (the paper
reports 4K, the released config reads 1000), and MODELS is paper_text.py's, the same dict. A change to
paper_text.py changes this preset too.
"""

from lra.presets.paper_text import BASE as PAPER_BASE
from lra.presets.paper_text import MODELS as PAPER_MODELS

BASE = {**PAPER_BASE, "data.max_length": 1000}
MODELS = PAPER_MODELS
