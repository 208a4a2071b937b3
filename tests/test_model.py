import math

import pytest
import torch

from lra.errors import LraError
from lra.model import build_model, sinusoidal_table
from tests.helpers import small_model_config


def test_sinusoidal_table_matches_formula():
    table = sinusoidal_table(7, 8)
    p, i = 5, 1
    assert table[p, 2 * i] == pytest.approx(math.sin(p * math.exp(-2 * i * math.log(1e4) / 8)), abs=1e-6)
    assert table[p, 2 * i + 1] == pytest.approx(math.cos(p * math.exp(-2 * i * math.log(1e4) / 8)), abs=1e-6)


@pytest.mark.parametrize("pooling", ["cls", "mean", "first"])
def test_classifier_ignores_padding(pooling):
    torch.manual_seed(0)
    model = build_model(small_model_config(pooling=pooling), vocab_size=17, num_classes=10, max_len=30).double().eval()
    tokens = torch.randint(1, 17, (3, 30))
    tokens[0, 25:] = 0
    tokens[1, 20:] = 0
    tokens[2, 9:] = 0
    trimmed = tokens[:, :26]  # the same examples with less trailing padding
    torch.testing.assert_close(model(tokens), model(trimmed), atol=1e-10, rtol=1e-10)
    assert model(tokens).shape == (3, 10)


def test_unmasked_mean_sees_padding_like_lra():
    torch.manual_seed(0)
    config = small_model_config(pooling="mean_unmasked")
    model = build_model(config, vocab_size=17, num_classes=10, max_len=30).double().eval()
    tokens = torch.randint(1, 17, (1, 30))
    tokens[0, 20:] = 0
    assert not torch.allclose(model(tokens), model(tokens[:, :21]))


def test_cls_is_zero_initialised_and_init_follows_lra():
    model = build_model(small_model_config(), vocab_size=17, num_classes=10, max_len=30)
    embed = model.encoder.embed
    assert torch.count_nonzero(embed.cls) == 0
    assert 0.8 < float(embed.tokens.weight.detach().std()) < 1.2  # N(0, 1), no sqrt(d) scaling
    assert model.encoder.blocks[0].mixer.q_proj.bias is None
    assert model.encoder.norm.eps == 1e-6


def test_two_tower_heads():
    for interaction, width in (("nli", 64), ("concat", 32)):
        config = small_model_config(pooling="first", interaction=interaction)
        model = build_model(config, vocab_size=257, num_classes=2, max_len=12, two_tower=True)
        assert model.head[0].in_features == width
        assert model(torch.randint(1, 257, (4, 2, 12))).shape == (4, 2)


def test_too_long_sequence_is_a_clear_error():
    model = build_model(small_model_config(), vocab_size=17, num_classes=10, max_len=10)
    with pytest.raises(LraError, match="exceeds the model's max_len=10"):
        model(torch.ones(1, 11, dtype=torch.long))


def test_causal_model_output_does_not_look_ahead():
    torch.manual_seed(0)
    config = small_model_config(causal=True, pooling="first")
    model = build_model(config, vocab_size=17, num_classes=10, max_len=20).eval()
    tokens = torch.randint(1, 17, (1, 20))
    changed = tokens.clone()
    changed[0, 5:] = torch.randint(1, 17, (15,))
    h1, _ = model.encoder(tokens)
    h2, _ = model.encoder(changed)
    torch.testing.assert_close(h1[:, :5], h2[:, :5])
