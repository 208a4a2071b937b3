"""The paper's printed figures (Tay et al., Long Range Arena, ICLR 2021), copied as printed, in one place.

Reports print them beside our own results; nothing here is measured. This module is not a preset: it
defines no BASE, so lra.presets does not list it (not as a preset "paper" with a task "figures").
"""

# Table 1: test accuracy (%) per task, in this column order; None = FAIL (not above chance).
PAPER_TABLE1_TASKS = ("listops", "text", "retrieval", "image", "pathfinder", "pathx")
PAPER_TABLE1 = {
    "transformer": (36.37, 64.27, 57.46, 42.44, 71.40, None),
    "local": (15.82, 52.98, 53.39, 41.46, 66.63, None),
    "sparse": (17.07, 63.58, 59.59, 44.24, 71.71, None),
    "longformer": (35.63, 62.85, 56.89, 42.22, 69.71, None),
    "linformer": (35.70, 53.94, 52.27, 38.56, 76.34, None),
    "reformer": (37.27, 56.10, 53.40, 38.07, 68.50, None),
    "sinkhorn": (33.67, 61.20, 53.83, 41.23, 67.45, None),
    "synthesizer": (36.99, 61.68, 54.67, 41.61, 69.45, None),
    "bigbird": (36.05, 64.02, 59.29, 40.83, 74.87, None),
    "linear": (16.13, 65.90, 53.09, 42.34, 75.30, None),
    "performer": (18.01, 65.40, 53.82, 42.77, 77.05, None),
}

# Table 2: training steps/s and peak memory (GB) at each length, measured on the text task.
PAPER_TABLE2_SETTING = "TPU v3 4x4, batch 32, text task"
PAPER_TABLE2_LENGTHS = ("1K", "2K", "3K", "4K")
PAPER_TABLE2 = {  # model: ([steps/s per length], [peak GB per length])
    "transformer": ([8.1, 4.9, 2.3, 1.4], [0.85, 2.65, 5.51, 9.48]),
    "local": ([9.2, 8.4, 7.4, 7.4], [0.42, 0.76, 1.06, 1.37]),
    "linformer": ([9.3, 9.1, 8.5, 7.7], [0.37, 0.55, 0.99, 0.99]),
    "reformer": ([4.4, 2.2, 1.5, 1.1], [0.48, 0.99, 1.53, 2.28]),
    "sinkhorn": ([9.1, 7.9, 6.6, 5.3], [0.47, 0.83, 1.13, 1.48]),
    "synthesizer": ([8.7, 5.7, 6.6, 1.9], [0.65, 1.98, 4.09, 6.99]),
    "bigbird": ([7.4, 3.9, 2.7, 1.5], [0.77, 1.49, 2.18, 2.88]),
    "linear": ([9.1, 9.3, 8.6, 7.8], [0.37, 0.57, 0.80, 1.03]),
    "performer": ([9.5, 9.4, 8.7, 8.0], [0.37, 0.59, 0.82, 1.06]),
}
