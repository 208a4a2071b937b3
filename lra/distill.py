"""Knowledge distillation (Hinton et al., 2015): a student trained on the hard labels and on a frozen
teacher's temperature-softened logits.

    loss = (1 - alpha) * CE(student, labels) + alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))

T^2 keeps the soft term's gradients on the scale of the hard term's as T grows. The teacher is a finished
run directory (`--set train.teacher=RUN`), read from its last parameters (LRA's protocol), for the same task;
the student may be smaller or another mechanism.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lra.errors import LraError


def distillation_loss(student: Tensor, teacher: Tensor, labels: Tensor, alpha: float, temperature: float) -> Tensor:
    """The blended loss above, averaged over the batch (KL summed over classes, as `batchmean`)."""
    hard = F.cross_entropy(student.float(), labels)
    if alpha == 0:
        return hard
    soft_targets = F.softmax(teacher.float() / temperature, dim=-1)
    log_student = F.log_softmax(student.float() / temperature, dim=-1)
    soft = F.kl_div(log_student, soft_targets, reduction="batchmean") * temperature**2
    return (1 - alpha) * hard + alpha * soft


def distillation_loss_ref(student: Tensor, teacher: Tensor, labels: Tensor, alpha: float, temperature: float) -> Tensor:
    """The same loss written out term by term in float64, for tests."""
    s, t = student.double(), teacher.double()
    log_p = s - s.logsumexp(-1, keepdim=True)
    hard = -log_p.gather(-1, labels[:, None]).mean()
    q = (t / temperature).softmax(-1)
    log_s_t = (s / temperature).log_softmax(-1)
    kl = (q * (q.log() - log_s_t)).sum(-1).mean()
    return (1 - alpha) * hard + alpha * temperature**2 * kl


def load_teacher(run_dir: str, task: str, device: torch.device) -> nn.Module:
    """The teacher's model at its last parameters, in eval mode, with every parameter frozen."""
    from lra.trainer import build_for, load_checkpoint, load_weights, read_run_config

    path = Path(run_dir)
    config = read_run_config(path)
    if config.task != task:
        raise LraError(f"train.teacher={run_dir}: the teacher was trained on task {config.task!r}, the student is "
                       f"on {task!r}")
    if config.train.objective != "classify":
        raise LraError(f"train.teacher={run_dir}: that run was trained with train.objective="
                       f"{config.train.objective}, not on the labels; a teacher must be a classifier")
    checkpoint = path / "last.pt"
    if not checkpoint.is_file():
        raise LraError(f"train.teacher={run_dir}: no last.pt (the teacher run has not checkpointed yet)")
    teacher = build_for(config).to(device)
    load_weights(teacher, load_checkpoint(checkpoint), checkpoint, config)
    teacher.eval()
    teacher.requires_grad_(False)
    return teacher
