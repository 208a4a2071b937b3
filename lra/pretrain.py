"""Self-pretraining on a task's own training inputs, then fine-tuning from it (Amos et al., "Never Train from
Scratch", ICLR 2024): no outside data, only the training split's token sequences without their labels.

- `train.objective=denoise`: BERT's masked-token denoising. `train.mask_rate` of the real tokens are chosen;
  of those 80% become a [MASK] id (one row past the task's vocabulary), 10% a random real token, 10% stay; the
  loss is cross-entropy on the chosen positions only.
- `train.objective=autoregressive`: next-token prediction with a causal model (`model.causal=true`): the
  features at token t predict token t+1.
- `train.init_from=RUN`: a classification run starts from RUN's encoder (last.pt); the classifier head is new.

A pretraining run is an ordinary run directory (same optimizer, schedule, checkpoints, resume, DDP); its
"accuracy" is the share of target tokens predicted exactly, its majority baseline the share of the most
frequent target token. A step's loss is the mean over all its targets, and its masks a function of (seed,
step, example), so gradient accumulation and DDP give the single process's step, as for classification.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lra.errors import LraError

OBJECTIVES = ("classify", "denoise", "autoregressive")
IGNORE = -100  # target of a position that is not predicted
EVAL_SEED = 1234  # the masks of evaluation are fixed, so that every evaluation scores the same task


class TokenPredictor(nn.Module):
    """lra's encoder with a per-token output layer: tokens (B, L) -> logits (B, L, vocab_size).

    The encoder's embedding has one more row than the task's vocabulary: the [MASK] id, `vocab_size`.
    """

    def __init__(self, encoder: nn.Module, emb_dim: int, vocab_size: int, objective: str, mask_rate: float):
        super().__init__()
        if not hasattr(encoder, "embed"):
            raise LraError("train.objective=" + objective + " needs lra's own encoder (a plugged whole encoder "
                           "has no token embedding to extend with a mask id)")
        self.encoder = encoder
        self.head = nn.Linear(emb_dim, vocab_size)
        self.vocab_size, self.mask_id = vocab_size, vocab_size
        self.objective, self.mask_rate = objective, mask_rate
        # With a CLS token the features of the sequence start at position 1.
        self.offset = 0 if encoder.embed.cls is None else 1

    def forward(self, tokens: Tensor) -> Tensor:
        features, _ = self.encoder(tokens)
        return self.head(features[:, self.offset:])


def build_predictor(config, vocab_size: int, max_len: int) -> TokenPredictor:
    from lra.model import make_encoder

    encoder = make_encoder(config.model, vocab_size + 1, max_len)
    return TokenPredictor(encoder, config.model.emb_dim, vocab_size, config.train.objective, config.train.mask_rate)


def corrupt(tokens: Tensor, rate: float, vocab_size: int, generator: torch.Generator | None = None
            ) -> tuple[Tensor, Tensor]:
    """BERT's corruption of real tokens (id > 0): (inputs, targets); targets are IGNORE where not chosen."""
    def uniform() -> Tensor:
        return torch.rand(tokens.shape, generator=generator, device="cpu").to(tokens.device)

    chosen = (uniform() < rate) & (tokens > 0)
    roll = uniform()
    random_ids = torch.randint(1, max(vocab_size, 2), tokens.shape, generator=generator, device="cpu")
    inputs = torch.where(chosen & (roll < 0.8), torch.full_like(tokens, vocab_size), tokens)
    inputs = torch.where(chosen & (roll >= 0.8) & (roll < 0.9), random_ids.to(tokens.device), inputs)
    return inputs, torch.where(chosen, tokens, torch.full_like(tokens, IGNORE))


def inputs_and_targets(model: TokenPredictor, tokens: Tensor, generator: torch.Generator | None = None
                       ) -> tuple[Tensor, Tensor]:
    """One task's sequences (two-tower pairs count as two sequences) -> the model's inputs and targets."""
    tokens = tokens.reshape(-1, tokens.shape[-1])
    if model.objective == "denoise":
        return corrupt(tokens, model.mask_rate, model.vocab_size, generator)
    # Autoregressive: position t predicts token t + 1; the last position predicts nothing.
    nxt = torch.cat([tokens[:, 1:], torch.zeros_like(tokens[:, :1])], dim=1)
    return tokens, torch.where(nxt > 0, nxt, torch.full_like(nxt, IGNORE))


def token_loss(logits: Tensor, targets: Tensor) -> tuple[Tensor, int, int]:
    """Mean cross-entropy over predicted positions, the number predicted exactly, the number predicted."""
    flat, wanted = logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1)
    count = int((wanted != IGNORE).sum())
    loss = F.cross_entropy(flat, wanted, ignore_index=IGNORE, reduction="sum") / max(count, 1)
    correct = int(((flat.argmax(-1) == wanted) & (wanted != IGNORE)).sum())
    return loss, correct, count


def seeded_inputs_and_targets(model: TokenPredictor, tokens: Tensor, seeds: list[int], trim
                              ) -> tuple[Tensor, Tensor]:
    """Each example's corruption from a generator of its own seed, over its full (untrimmed) row, then the
    batch trimmed: so an example's masks do not depend on the batch size or on the examples beside it."""
    pairs = [inputs_and_targets(model, tokens[i : i + 1], torch.Generator().manual_seed(seed))
             for i, seed in enumerate(seeds)]
    inputs = trim(torch.cat([p[0] for p in pairs]))  # corruption leaves padding where it was
    return inputs, torch.cat([p[1] for p in pairs])[:, : inputs.shape[1]]


def training_seeds(seed: int, step: int, example_ids: Tensor) -> list[int]:
    """Masks are a pure function of (train.seed, step, example): a resumed run, any train.grad_accum and any
    number of processes draw the same ones, and an example is masked afresh at every step (dynamic masking)."""
    return [(seed * 1_000_003 + step) * 10_000_019 + int(i) for i in example_ids]


def count_targets(targets: Tensor) -> int:
    return int((targets != IGNORE).sum())


def step_loss(model: nn.Module, inputs: Tensor, targets: Tensor, step_targets: float, shares: int
              ) -> tuple[Tensor, float, float]:
    """One micro-batch through `model` (the predictor, or its DDP wrapper): (the loss to backpropagate, its own
    mean loss, the share of its targets predicted exactly). The loss to backpropagate is its summed
    cross-entropy over the whole step's targets (`step_targets`, over every micro-batch and process), times
    the `shares` (micro-batches x processes) that gradient accumulation and DDP average over: so a step's
    gradient is that of the mean over all its targets, however the batch is split."""
    loss, correct, count = token_loss(model(inputs), targets)
    backward = loss * count * shares / max(step_targets, 1.0)
    return backward, loss.item(), correct / max(count, 1)


def fixed_inputs_and_targets(model: TokenPredictor, tokens: Tensor, first_index: int, trim) -> tuple[Tensor, Tensor]:
    """Evaluation's corruption: example i's masks come from a generator seeded by i (see above)."""
    return seeded_inputs_and_targets(model, tokens, [EVAL_SEED + first_index + i for i in range(len(tokens))], trim)


@torch.no_grad()
def evaluate_tokens(model: TokenPredictor, tokens: Tensor, batch_size: int, device: torch.device,
                    trim) -> tuple[float, float, int, float]:
    """(accuracy, mean loss per target, targets, majority accuracy) over a split's sequences, fixed masks."""
    was_training = model.training
    model.eval()
    correct = count = 0
    loss_sum = 0.0
    counts = torch.zeros(model.vocab_size + 1, dtype=torch.long)
    for start in range(0, len(tokens), batch_size):
        inputs, targets = fixed_inputs_and_targets(model, tokens[start : start + batch_size].long(), start, trim)
        loss, right, n = token_loss(model(inputs.to(device)), targets.to(device))
        loss_sum, correct, count = loss_sum + float(loss) * n, correct + right, count + n
        counts += torch.bincount(targets[targets != IGNORE], minlength=len(counts))
    model.train(was_training)
    n = max(count, 1)
    return correct / n, loss_sum / n, count, float(counts.max()) / n


def load_encoder(model: nn.Module, run_dir: str | Path, config) -> None:
    """Start `model`'s encoder from the encoder of RUN's last.pt (a pretraining or any other run of the same
    encoder settings); the pretraining's [MASK] embedding row is dropped."""
    from lra.trainer import load_checkpoint, read_run_config

    run_dir = Path(run_dir)
    source = read_run_config(run_dir)
    if source.task != config.task:
        raise LraError(f"train.init_from={run_dir}: that run is of task {source.task!r}, this one of "
                       f"{config.task!r}")
    if source.data.pixel_offset != config.data.pixel_offset:
        raise LraError(f"train.init_from={run_dir}: that run has data.pixel_offset={source.data.pixel_offset}, "
                       f"this one {config.data.pixel_offset}; the token ids would not mean the same pixels")
    if source.model.attention != config.model.attention:
        raise LraError(f"train.init_from={run_dir}: that run's model is {source.model.attention!r}, this one "
                       f"{config.model.attention!r}")
    path = run_dir / "last.pt"
    if not path.is_file():
        raise LraError(f"train.init_from={run_dir}: no last.pt (the run has not saved a checkpoint)")
    stored = {k[len("encoder."):]: v for k, v in load_checkpoint(path)["model"].items() if k.startswith("encoder.")}
    encoder = model.encoder
    mine = encoder.state_dict()
    table = "embed.tokens.weight"
    if table in stored and table in mine and stored[table].shape[0] == mine[table].shape[0] + 1:
        stored[table] = stored[table][:-1]
    missing = sorted(mine.keys() - stored.keys())
    unexpected = sorted(stored.keys() - mine.keys())
    wrong = [k for k in mine.keys() & stored.keys() if stored[k].shape != mine[k].shape]
    if table in wrong and stored[table].shape[0] + 1 == mine[table].shape[0]:
        raise LraError(f"train.init_from: {path} has no [MASK] embedding row, which this pretraining model "
                       "needs; start pretraining from scratch, or fine-tune a classifier (train.objective=classify)")
    if missing or unexpected or wrong:
        detail = (f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}" if unexpected else
                  f"{wrong[0]} is {tuple(stored[wrong[0]].shape)} there, {tuple(mine[wrong[0]].shape)} here")
        raise LraError(f"train.init_from: the encoder of {path} does not fit this model ({detail}); use the same "
                       "model.* settings as the pretraining run")
    encoder.load_state_dict(stored)
