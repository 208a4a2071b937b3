"""What `lra demo` runs: the `tiny` preset's ListOps and Pathfinder for a few mechanisms, on generated data."""

MODELS = ("transformer", "local", "performer")
PATHFINDER_IMAGES = 2000
# Quadratic attention over 1,024 pixels costs about 2 s per step at batch 32 on 2 cores: the demo gives
# Pathfinder a short run that shows the pipeline, not a trained model (`lra suite --preset tiny` trains it).
PATHFINDER_RUN = ["train.steps=40", "train.batch_size=16", "train.eval_every=20", "train.checkpoint_every=20"]
