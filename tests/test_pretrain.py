"""Self-pretraining (lra/pretrain.py): BERT's corruption, next-token targets, the loss, causality, evaluation
with fixed masks, and fine-tuning from a pretrained encoder."""

import json

import pytest
import torch
from torch.nn import functional as F

from lra.errors import LraError
from lra.pretrain import (
    EVAL_SEED,
    IGNORE,
    TokenPredictor,
    corrupt,
    evaluate_tokens,
    inputs_and_targets,
    load_encoder,
    token_loss,
)
from lra.trainer import build_for, train


def test_corruption_chooses_real_tokens_only_at_the_rate_and_splits_80_10_10():
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(1, 20, (64, 500), generator=generator)
    tokens[:, 400:] = 0  # padding
    inputs, targets = corrupt(tokens, 0.15, vocab_size=20, generator=generator)
    chosen = targets != IGNORE
    assert not chosen[:, 400:].any() and torch.equal(inputs[:, 400:], tokens[:, 400:])
    assert torch.equal(targets[chosen], tokens[chosen])
    assert torch.equal(inputs[~chosen], tokens[~chosen])
    assert abs(chosen[:, :400].float().mean().item() - 0.15) < 0.01
    masked = (inputs == 20) & chosen
    changed = (inputs != tokens) & (inputs != 20)
    n = chosen.sum().item()
    assert abs(masked.sum().item() / n - 0.8) < 0.02
    # 10% get a random real token, which equals the original one time in 19.
    assert abs(changed.sum().item() / n - 0.1 * 18 / 19) < 0.02
    assert ((inputs >= 1) & (inputs <= 20))[:, :400].all()


def test_every_real_token_is_a_target_at_rate_one():
    tokens = torch.tensor([[3, 4, 5, 0, 0]])
    _, targets = corrupt(tokens, 1.0, vocab_size=10)
    assert targets.tolist() == [[3, 4, 5, IGNORE, IGNORE]]


def predictor(objective: str, causal: bool = False, cls: bool = True) -> TokenPredictor:
    from lra.presets import resolve_config

    sets = ["model.num_layers=1", "model.emb_dim=16", "model.qkv_dim=16", "model.mlp_dim=32", "model.num_heads=2",
            "data.max_length=40", "model.dropout=0", "model.attention_dropout=0", f"train.objective={objective}",
            f"model.causal={str(causal).lower()}", f"model.pooling={'cls' if cls else 'mean'}"]
    torch.manual_seed(0)
    return build_for(resolve_config("listops", "transformer", "tiny", sets)).double().eval()


def test_autoregressive_targets_are_the_next_real_token():
    model = predictor("autoregressive", causal=True)
    tokens = torch.tensor([[3, 4, 5, 0], [6, 7, 8, 9]])
    inputs, targets = inputs_and_targets(model, tokens)
    assert torch.equal(inputs, tokens)
    assert targets.tolist() == [[4, 5, IGNORE, IGNORE], [7, 8, 9, IGNORE]]


def test_two_tower_pairs_are_pretrained_as_separate_sequences():
    model = predictor("denoise")
    pairs = torch.randint(1, 10, (3, 2, 7))
    inputs, targets = inputs_and_targets(model, pairs)
    assert inputs.shape == targets.shape == (6, 7)


def test_token_loss_is_the_mean_cross_entropy_over_targets():
    logits = torch.randn(2, 5, 7, dtype=torch.float64)
    targets = torch.tensor([[1, IGNORE, 3, IGNORE, IGNORE], [IGNORE, 6, 2, 2, IGNORE]])
    loss, correct, count = token_loss(logits, targets)
    keep = targets != IGNORE
    expected = F.cross_entropy(logits[keep], targets[keep])
    torch.testing.assert_close(loss.double(), expected, rtol=1e-6, atol=1e-6)
    assert count == 5 and correct == int((logits[keep].argmax(-1) == targets[keep]).sum())


@pytest.mark.parametrize("cls", [True, False])
def test_autoregressive_logits_at_t_do_not_see_token_t_plus_one(cls):
    model = predictor("autoregressive", causal=True, cls=cls)
    tokens = torch.randint(1, 10, (2, 12))
    changed = tokens.clone()
    changed[:, 6:] = torch.randint(1, 10, (2, 6))
    with torch.no_grad():
        a, b = model(tokens), model(changed)
    assert a.shape == (2, 12, model.vocab_size)
    torch.testing.assert_close(a[:, :6], b[:, :6])  # position 5 predicts token 6, which changed
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_evaluation_masks_are_fixed_and_the_majority_is_the_most_frequent_target():
    model = predictor("denoise")
    tokens = torch.randint(1, 10, (20, 30))
    first = evaluate_tokens(model, tokens, 8, torch.device("cpu"), lambda t: t)
    assert evaluate_tokens(model, tokens, 5, torch.device("cpu"), lambda t: t) == pytest.approx(first)
    # Example i's masks are those of corrupt with a generator of seed EVAL_SEED + i, at any batch size.
    targets = torch.cat([corrupt(tokens[i : i + 1], model.mask_rate, model.vocab_size,
                                 torch.Generator().manual_seed(EVAL_SEED + i))[1] for i in range(len(tokens))])
    wanted = targets[targets != IGNORE]
    assert first[2] == len(wanted) > 0
    assert first[3] == pytest.approx(torch.bincount(wanted).max().item() / len(wanted))


def test_pretrain_then_fine_tune_starts_from_the_pretrained_encoder(fast_config, tmp_path):
    pre = tmp_path / "pre"
    results = train(fast_config("train.objective=denoise", "train.steps=4"), pre, progress=False)
    assert 0 <= results["test_acc"] <= 1 and 0 < results["test_majority_acc"] <= 1
    stored = torch.load(pre / "last.pt", weights_only=False)["model"]
    assert stored["encoder.embed.tokens.weight"].shape[0] == stored["head.weight"].shape[0] + 1  # + [MASK]

    config = fast_config(f"train.init_from={pre}")
    model = build_for(config)
    fresh_head = {k: v.clone() for k, v in model.head.state_dict().items()}
    load_encoder(model, pre, config)
    for name, value in model.encoder.state_dict().items():
        expected = stored["encoder." + name]
        expected = expected[:-1] if name == "embed.tokens.weight" else expected
        assert torch.equal(value, expected), name
    for name, value in model.head.state_dict().items():
        assert torch.equal(value, fresh_head[name])

    # Through the trainer: one step at the first learning rate of the warmup (0) leaves the loaded encoder as is.
    tuned = tmp_path / "tuned"
    train(fast_config(f"train.init_from={pre}", "train.steps=1"), tuned, progress=False)
    assert json.loads((tuned / "config.json").read_text())["train"]["init_from"] == str(pre)
    assert_encoder_is(torch.load(tuned / "last.pt", weights_only=False)["model"], stored)

    # A fine-tuning run stopped before its first checkpoint starts from init_from again when resumed.
    stopped = tmp_path / "stopped"
    stopped.mkdir()
    (stopped / "config.json").write_text((tuned / "config.json").read_text())
    train(fast_config(f"train.init_from={pre}", "train.steps=1"), stopped, resume=True, progress=False)
    assert_encoder_is(torch.load(stopped / "last.pt", weights_only=False)["model"], stored)


def assert_encoder_is(weights: dict, pretrained: dict) -> None:
    encoder = {k: v for k, v in weights.items() if k.startswith("encoder.")}
    assert encoder
    for name, value in encoder.items():
        expected = pretrained[name][:-1] if name == "encoder.embed.tokens.weight" else pretrained[name]
        assert torch.equal(value, expected), name


def test_refusals(fast_config, tmp_path):
    with pytest.raises(LraError, match="needs model.causal=true"):
        train(fast_config("train.objective=autoregressive"), tmp_path / "a", progress=False)
    with pytest.raises(LraError, match="train.teacher"):
        train(fast_config("train.objective=denoise", f"train.teacher={tmp_path}"), tmp_path / "b", progress=False)
    pre = tmp_path / "pre"
    train(fast_config("train.objective=denoise", "train.steps=2"), pre, progress=False)
    with pytest.raises(LraError, match="does not fit this model"):
        train(fast_config(f"train.init_from={pre}", "model.mlp_dim=64"), tmp_path / "c", progress=False)
    with pytest.raises(LraError, match="model is 'transformer'"):
        train(fast_config(f"train.init_from={pre}", model="local"), tmp_path / "d", progress=False)
    with pytest.raises(LraError, match="a teacher must be a classifier"):
        train(fast_config(f"train.teacher={pre}"), tmp_path / "f", progress=False)
    with pytest.raises(LraError, match="no \\[MASK\\] embedding row"):
        classifier = tmp_path / "classifier"
        train(fast_config("train.steps=2"), classifier, progress=False)
        train(fast_config("train.objective=denoise", f"train.init_from={classifier}"), tmp_path / "g", progress=False)
    with pytest.raises(LraError, match="not a run directory"):
        train(fast_config(f"train.init_from={tmp_path / 'nothing'}"), tmp_path / "e", progress=False)


def test_retrieval_pretrains_both_documents_and_fine_tunes_two_towers(tmp_path):
    from lra.data import fixtures
    from lra.data.tasks import prepare_task
    from lra.presets import resolve_config

    data = prepare_task("retrieval", fixtures.write_aan(tmp_path / "src"), tmp_path / "aan")
    short = [f"data.data_dir={data}", "train.steps=2", "train.eval_every=2", "train.checkpoint_every=2",
             "train.batch_size=4", "train.eval_batch_size=8", "model.num_layers=1", "train.threads=1"]
    pre = tmp_path / "pre"
    results = train(resolve_config("retrieval", "transformer", "tiny", [*short, "train.objective=denoise"]), pre,
                    progress=False)
    assert 0 <= results["test_acc"] <= 1
    stored = torch.load(pre / "last.pt", weights_only=False)["model"]
    tuned = tmp_path / "tuned"
    train(resolve_config("retrieval", "transformer", "tiny", [*short, "train.steps=1", f"train.init_from={pre}"]),
          tuned, progress=False)
    weights = torch.load(tuned / "last.pt", weights_only=False)["model"]
    assert any(k.startswith("head.") for k in weights)
    assert_encoder_is(weights, stored)


EXACT = ["model.dropout=0", "model.attention_dropout=0", "train.objective=denoise", "train.steps=6",
         "train.eval_every=3"]


def test_a_pretraining_step_is_the_same_however_it_is_accumulated(fast_config, tmp_path):
    """The loss is the mean over the whole step's targets and the masks a function of (seed, step, example):
    4 micro-batches reach the weights of one batch."""
    train(fast_config(*EXACT), tmp_path / "one", progress=False)
    train(fast_config(*EXACT, "train.grad_accum=4"), tmp_path / "accum", progress=False)
    one = torch.load(tmp_path / "one" / "last.pt", weights_only=False)["model"]
    weights = torch.load(tmp_path / "accum" / "last.pt", weights_only=False)["model"]
    for name in one:
        torch.testing.assert_close(weights[name], one[name], atol=1e-5, rtol=1e-4, msg=name)


# Slow: one CI run saw a rank abort at exit inside gloo ("terminate called without an active exception"),
# which 40 local repetitions did not reproduce; the in-process accumulation test above stays in CI.
@pytest.mark.slow
def test_a_pretraining_step_is_the_same_on_two_processes(fast_config, fast_overrides, tmp_path):
    """2 DDP processes x 2 micro-batches reach the single process's weights."""
    import subprocess
    import sys

    from tests.helpers import REPO, set_args

    train(fast_config(*EXACT), tmp_path / "one", progress=False)
    two = tmp_path / "two"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
                           "29548", "-m", "lra", "train", "--task", "listops", "--preset", "tiny", "--out", str(two),
                           "--quiet", *set_args(fast_overrides(*EXACT, "train.grad_accum=2"))],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one = torch.load(tmp_path / "one" / "last.pt", weights_only=False)["model"]
    weights = torch.load(two / "last.pt", weights_only=False)["model"]
    for name in one:
        torch.testing.assert_close(weights[name], one[name], atol=1e-5, rtol=1e-4, msg=name)


def test_training_masks_change_with_the_step_and_the_example():
    from lra.pretrain import training_seeds

    pair = torch.tensor([3, 4])
    assert len(set(training_seeds(0, 5, pair) + training_seeds(0, 6, pair) + training_seeds(1, 5, pair))) == 6
