"""The text config exactly as released (base_tc_config.py): like `paper`, but max_length 1000."""

from lra.presets.paper_text import BASE as PAPER_BASE
from lra.presets.paper_text import MODELS as PAPER_MODELS

BASE = {**PAPER_BASE, "data.max_length": 1000}
MODELS = PAPER_MODELS
