"""lra.span: the required attention span of a trained run (`lra span`)."""

import pytest
import torch

from lra.cli import main
from lra.data.tasks import load_split
from lra.span import attention_spans
from lra.trainer import read_run_config
from tests.helpers import one_line_error


def test_span_of_uniform_attention_is_the_mean_distance(finished_run):
    run = finished_run
    state = torch.load(run / "best.pt", weights_only=False)
    for name in state["model"]:
        if name.endswith("q_proj.weight"):
            state["model"][name].zero_()  # zero queries: uniform attention over the real keys
    torch.save(state, run / "best.pt")
    spans = attention_spans(run, samples=40, batch_size=7)
    config = read_run_config(run)
    val = load_split("listops", "val", config.data)
    chosen = torch.randperm(len(val), generator=torch.Generator().manual_seed(0))[:40]
    n = (val.tokens[chosen] > 0).sum(1).double() + 1  # real tokens plus CLS
    expected = ((n * n - 1) / (3 * n)).mean()
    assert spans["mean"] == pytest.approx(float(expected), rel=1e-9)


def test_span_needs_at_least_one_sample(finished_run, capsys):
    assert main(["span", str(finished_run), "--samples", "0"]) == 2
    one_line_error(capsys, "--samples=0")
