"""Knowledge distillation: the loss is the formula, the teacher stays frozen, alpha=0 is plain training."""

from __future__ import annotations

import pytest
import torch

from lra.distill import distillation_loss, distillation_loss_ref
from lra.errors import LraError
from lra.trainer import load_checkpoint, train


@pytest.mark.parametrize("alpha, temperature", [(0.0, 1.0), (0.5, 2.0), (1.0, 4.0), (0.3, 0.5)])
def test_the_loss_matches_the_formula(alpha, temperature):
    generator = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(6, 5, generator=generator), 3 * torch.randn(6, 5, generator=generator)
    labels = torch.randint(0, 5, (6,), generator=generator)
    ours = distillation_loss(student, teacher, labels, alpha, temperature)
    assert float(ours) == pytest.approx(float(distillation_loss_ref(student, teacher, labels, alpha, temperature)),
                                        rel=1e-5)


def test_the_soft_term_vanishes_when_the_student_copies_the_teacher():
    logits = torch.randn(4, 3)
    labels = torch.zeros(4, dtype=torch.long)
    assert float(distillation_loss(logits, logits, labels, alpha=1.0, temperature=3.0)) == pytest.approx(0, abs=1e-6)


def test_a_student_learns_from_a_frozen_teacher(finished_run, fast_config, tmp_path):
    teacher_before = {k: v.clone() for k, v in load_checkpoint(finished_run / "last.pt")["model"].items()}
    student = fast_config(f"train.teacher={finished_run}", "train.steps=4", "train.distill_alpha=0.7",
                          "model.emb_dim=8", "model.qkv_dim=8", "model.mlp_dim=16", model="local")
    results = train(student, tmp_path / "student", progress=False)
    assert results["steps"] == 4
    teacher_after = load_checkpoint(finished_run / "last.pt")["model"]
    assert all(torch.equal(teacher_before[k], teacher_after[k]) for k in teacher_before)


def test_alpha_zero_is_training_on_the_labels_alone(finished_run, fast_config, tmp_path):
    plain = train(fast_config("train.steps=4"), tmp_path / "plain", progress=False)
    distilled = train(fast_config("train.steps=4", f"train.teacher={finished_run}", "train.distill_alpha=0"),
                      tmp_path / "alpha0", progress=False)
    a = load_checkpoint(tmp_path / "plain" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "alpha0" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a) and plain["test_acc_last"] == distilled["test_acc_last"]


def test_a_teacher_of_another_task_or_no_run_is_refused(finished_run, fast_config, tmp_path):
    with pytest.raises(LraError, match="not a run|config.json|no such|does not exist"):
        train(fast_config(f"train.teacher={tmp_path / 'nothing'}"), tmp_path / "a", progress=False)
    from lra.distill import load_teacher

    with pytest.raises(LraError, match="trained on task 'listops', the student is on 'text'"):
        load_teacher(str(finished_run), "text", torch.device("cpu"))
