"""lra: the Long Range Arena benchmark and its efficient Transformers, in PyTorch."""

__version__ = "0.1.0"
