"""The paper presets against the released LRA code (lra.fidelity, docs/fidelity.md by lra.fidelity_report).

A preset value that leaves LRA's without a reason in lra.fidelity.DEVIATIONS fails here, as does a reason that
no longer matches a difference, and a docs/fidelity.md that is not what `python -m lra.fidelity` renders.
"""

from __future__ import annotations

import runpy
import sys
import warnings
from pathlib import Path

import pytest

from lra import fidelity, fidelity_report
from lra.presets.released_lra import MODELS, ROOT, TASKS, model_file, released_values

DOC = Path(__file__).resolve().parents[1] / "docs" / "fidelity.md"


@pytest.fixture(scope="module")
def rows() -> list[fidelity.Row]:
    return fidelity.all_rows()


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("task", TASKS)
def test_paper_preset_equals_lra_or_says_why(task: str, model: str) -> None:
    unexplained = [r for r in fidelity.compare(task, model) if r.status == "unexplained"]
    assert not unexplained, f"paper preset of ({task}, {model}) differs from the released LRA code:\n" + "\n".join(
        f"  {r.key}: LRA {r.lra!r} ({r.source}{'; ' + r.lra_note if r.lra_note else ''}), ours {r.ours!r}"
        for r in unexplained) + "\nfix the preset, or add the reason to lra.fidelity.DEVIATIONS"


def test_every_deviation_covers_a_difference(rows: list[fidelity.Row]) -> None:
    assert fidelity.stale_deviations(rows) == [], "DEVIATIONS entries that match no difference any more"


def test_every_deviation_names_a_recorded_key_and_a_reason() -> None:
    keys = {key for task in TASKS for model in MODELS for key in released_values(task, model)}
    for (task, model, key), deviation in fidelity.DEVIATIONS.items():
        assert task in (*TASKS, "*") and model in (*MODELS, "*")
        assert key in keys, f"DEVIATIONS names {key!r}, which lra.presets.released_lra does not record"
        assert len(deviation.reason.split()) >= 5, f"({task}, {model}, {key}): say why"


def test_docs_fidelity_md_is_current(rows: list[fidelity.Row]) -> None:
    assert DOC.is_file() and DOC.read_text(encoding="utf-8") == fidelity_report.render(rows), (
        "docs/fidelity.md is out of date: run python -m lra.fidelity --out docs/fidelity.md")


def test_a_changed_preset_is_an_unexplained_difference(monkeypatch: pytest.MonkeyPatch) -> None:
    import lra.presets.paper_pathfinder as preset

    monkeypatch.setitem(preset.MODELS["performer"], "model.num_heads", 4)
    monkeypatch.setitem(preset.BASE, "train.warmup_steps", 100)
    rows = fidelity.compare("pathfinder", "performer")
    assert sorted(r.key for r in rows if r.status == "unexplained") == ["model.num_heads", "train.warmup_steps"]
    assert [r.lra for r in rows if r.key == "model.num_heads"] == [8]


def test_a_deviation_that_matches_no_difference_is_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = fidelity.compare("listops", "transformer")
    entry = ("listops", "transformer", "train.lr")
    monkeypatch.setitem(fidelity.DEVIATIONS, entry, fidelity.Deviation("a reason for a value we share"))
    stale = fidelity.stale_deviations(rows)
    assert entry in stale and ("listops", "*", "data.vocab_order") not in stale
    assert [(r.equal, r.reason) for r in fidelity.compare("listops", "transformer") if r.key == "train.lr"] == [
        (True, "")]


def test_a_deviation_with_values_covers_only_those_values() -> None:
    # The masked-mean reason covers LRA's unmasked mean against our masked mean, not another pooling.
    assert fidelity.deviation_for("pathfinder", "transformer", "model.pooling", "mean_unmasked", "mean")
    assert fidelity.deviation_for("listops", "sinkhorn", "model.pooling", "mean_unmasked", "cls") is None


def test_released_values_come_with_their_files() -> None:
    for task in TASKS:
        for model in MODELS:
            for key, fact in released_values(task, model).items():
                assert fact.source.startswith(ROOT) and fact.source.endswith(".py"), (task, model, key)
    assert model_file("text", "sinkhorn") == f"{ROOT}text_classification/configs/sinkhorn_transformer_base.py"
    assert model_file("pathx", "performer") is None  # only transformer_base.py is released for Path-X


def test_lra_code_effects_are_recorded() -> None:
    """What LRA's code runs with where it overrides its config."""
    reformer = released_values("image", "reformer")
    assert reformer["model.qkv_dim"].value == reformer["model.emb_dim"].value == 64  # config qkv_dim 32 ignored
    assert reformer["model.attention_dropout"].value == 0.0
    assert released_values("listops", "sinkhorn")["model.pooling"].value == "mean_unmasked"
    assert released_values("text", "performer")["model.attention_options.kernel"].value == "relu_deterministic"
    assert released_values("listops", "performer")["model.attention_options.kernel"].value == "softmax"
    assert released_values("pathfinder256", "transformer")["train.warmup_steps"].value == 5000


def test_cli_check_and_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fidelity_report, "render", lambda rows=None: "# tables\n")
    out = tmp_path / "fidelity.md"
    assert fidelity_report.main(["--out", str(out), "--check"]) == 1
    assert fidelity_report.main(["--out", str(out)]) == 0 and out.read_text() == "# tables\n"
    assert fidelity_report.main(["--out", str(out), "--check"]) == 0


def test_the_command_is_python_m_lra_fidelity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m lra.fidelity` runs the report's command, as docs/fidelity.md and the messages say."""
    monkeypatch.setattr(fidelity_report, "render", lambda rows=None: "# tables\n")
    out = tmp_path / "fidelity.md"
    monkeypatch.setattr(sys, "argv", ["python -m lra.fidelity", "--out", str(out)])
    with warnings.catch_warnings(), pytest.raises(SystemExit) as exit_:
        warnings.simplefilter("ignore", RuntimeWarning)  # runpy: lra.fidelity is already imported
        runpy.run_module("lra.fidelity", run_name="__main__")
    assert exit_.value.code == 0 and out.read_text() == "# tables\n"
