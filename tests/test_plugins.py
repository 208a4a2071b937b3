"""Models from outside the package: module:Class names, factories, whole encoders, the lra.mixers entry
points (with the example package in examples/lra-gated-conv), `lra check`, and the Python API."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import lra
from lra.attention import get_spec, mechanism_names, registry
from lra.checks import run_checks
from lra.errors import LraError
from lra.model import build_model
from lra.presets import resolve_config
from tests.helpers import FAST, REPO, set_args

EXAMPLE = REPO / "examples" / "lra-gated-conv"
EXAMPLE_SRC = EXAMPLE / "src"
GATED = "lra_gated_conv:GatedConvMixer"

PLUGIN_MODULE = '''
from dataclasses import dataclass

import torch
from torch import nn

from lra import AttentionCore, SequenceEncoder, SequenceMixer


def make_shift(dim, max_len, causal=False, steps: int = 1, scale: float = 1.0):
    """a factory: each token plus its predecessor, scaled"""
    class Shift(nn.Module):
        def forward(self, x, mask=None):
            x = x if mask is None else x * mask[..., None]
            out = scale * (x + torch.roll(x, steps, dims=1) * (torch.arange(x.shape[1]) >= steps)[:, None])
            return out if mask is None else out * mask[..., None]
    return Shift()


class LeakyMean(SequenceMixer):
    """every position gets the mean over all positions, padding included: a padding bug on purpose"""
    @dataclass(frozen=True)
    class Options:
        pass

    def __init__(self, options, dim, max_len, causal=False):
        super().__init__()
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask=None):
        out = self.proj(x).mean(dim=1, keepdim=True).expand_as(x)
        return out if mask is None else out * mask[..., None]


class PlainSoftmax(AttentionCore):
    """softmax attention written out, declaring exposes_weights for lra span"""
    exposes_weights = True

    @dataclass(frozen=True)
    class Options:
        pass

    def __init__(self, options, ctx):
        super().__init__(ctx)

    def forward(self, q, k, v, key_mask=None):
        logits = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
        if key_mask is not None:
            logits = logits.masked_fill(~key_mask[:, None, None, :], float("-inf"))
        return torch.softmax(logits, dim=-1) @ v


class GruEncoder(SequenceEncoder):
    """a whole encoder: embeddings and a GRU, summary at position 0"""
    @dataclass(frozen=True)
    class Options:
        bidirectional: bool = False

    def __init__(self, options, config, vocab_size, max_len):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, config.emb_dim)
        self.gru = nn.GRU(config.emb_dim, config.emb_dim, batch_first=True)

    def forward(self, tokens):
        mask = tokens > 0
        out, _ = self.gru(self.embed(tokens.flip(1)))  # read right to left: position 0 sees every token
        return out.flip(1) * mask[..., None], mask
'''


@pytest.fixture
def plugin_path(tmp_path, monkeypatch):
    """my_plugin.py and the example package importable; registrations made by a test are undone after it."""
    (tmp_path / "my_plugin.py").write_text(textwrap.dedent(PLUGIN_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLE_SRC))
    before = dict(registry._REGISTRY)
    yield tmp_path
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)
    for module in ("my_plugin", "lra_gated_conv"):
        sys.modules.pop(module, None)


def test_a_module_class_name_resolves_with_its_options_validated(plugin_path):
    spec = get_spec(GATED)
    assert spec.kind == "mixer" and spec.causal and GATED in mechanism_names()
    config = resolve_config("listops", GATED, "tiny", ["model.attention_options.min_decay=0.01"])
    assert config.model.attention_options == {"min_decay": 0.01}
    with pytest.raises(LraError, match="min_decay=2"):
        resolve_config("listops", GATED, "tiny", ["model.attention_options.min_decay=2"])
    with pytest.raises(LraError, match="unknown option.*nope.*valid: bidirectional, min_decay"):
        resolve_config("listops", GATED, "tiny", ["model.attention_options.nope=1"])


def test_a_factory_gets_options_from_its_keyword_parameters(plugin_path):
    name = "my_plugin:make_shift"
    spec = get_spec(name)
    assert spec.kind == "mixer" and not spec.causal
    config = resolve_config("listops", name, "tiny", ["model.attention_options.steps=2"])
    model = build_model(config.model, vocab_size=20, num_classes=10, max_len=64)
    assert model(torch.randint(1, 20, (2, 30))).shape == (2, 10)
    with pytest.raises(LraError, match="option steps='two': expected int"):
        resolve_config("listops", name, "tiny", ["model.attention_options.steps=two"])
    with pytest.raises(LraError, match="has no causal mode"):
        resolve_config("listops", name, "tiny", ["model.causal=true"])


@pytest.mark.parametrize("bad, message", [
    ("no_such_module:X", "cannot import 'no_such_module': ModuleNotFoundError"),
    ("my_plugin:Missing", "module 'my_plugin' has no attribute 'Missing'"),
    ("my_plugin", "unknown model 'my_plugin'"),
])
def test_a_bad_plugin_name_is_one_error_line(plugin_path, bad, message):
    with pytest.raises(LraError, match=message):
        get_spec(bad)


def test_a_whole_encoder_trains_under_our_heads_pooling_and_two_towers(plugin_path, listops_dir, tmp_path):
    name = "my_plugin:GruEncoder"
    assert get_spec(name).kind == "encoder"
    results = lra.train(task="listops", model=name, preset="tiny", out=tmp_path / "run",
                        overrides=[*FAST, f"data.data_dir={listops_dir}", "train.steps=4"])
    assert results["steps"] == 4 and 0.0 <= results["test_acc_last"] <= 1.0
    assert lra.evaluate(tmp_path / "run")["accuracy"] == pytest.approx(results["test_acc_last"])
    config = resolve_config("retrieval", name, "tiny", ["model.emb_dim=16", "model.mlp_dim=32"])
    towers = build_model(config.model, vocab_size=30, num_classes=2, max_len=50, two_tower=True)
    assert towers(torch.randint(1, 30, (3, 2, 50))).shape == (3, 2)
    with pytest.raises(LraError, match="is a whole encoder, not a mixer"):
        registry.build_mixer(name, dim=16, qkv_dim=16, num_heads=2, max_len=20)


def test_a_plugin_core_runs_in_span_and_the_report(plugin_path, fast_config, tmp_path):
    from lra.report import write_report
    from lra.span import attention_spans
    from lra.trainer import train

    name = "my_plugin:PlainSoftmax"
    assert get_spec(name).kind == "attention" and get_spec(name).exposes_weights
    train(fast_config("train.steps=4", model=name), tmp_path / "runs" / "plugin", progress=False)
    spans = attention_spans(tmp_path / "runs" / "plugin", samples=4)
    assert spans["model"] == name and spans["samples"] == 4 and spans["mean"] > 0
    assert f"| {name} |" in write_report(tmp_path).read_text()


@pytest.mark.parametrize("name", mechanism_names())
def test_lra_check_passes_every_registered_mechanism(name):
    results = run_checks(name, get_spec(name).test_options)
    assert [r for r in results if r.status == "fail"] == []
    skipped = {r.name for r in results if r.status == "skip"}
    assert ("padding invariance" in skipped) == get_spec(name).length_dependent
    assert ("causal, no leak" in skipped) == (not get_spec(name).causal)


def test_lra_check_catches_a_padding_bug(plugin_path):
    results = {r.name: r for r in run_checks("my_plugin:LeakyMean")}
    assert results["padding invariance"].status == "fail"
    assert "trailing padding" in results["padding invariance"].detail
    assert results["shapes and dtype"].status == "pass"


def test_import_lra_is_light_and_exposes_the_api():
    code = "import sys, lra; print('torch' in sys.modules, callable(lra.train), callable(lra.register_mixer))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "True"]


def _installed(site: Path, dist: str, entry_points: str) -> None:
    """What pip leaves for importlib.metadata: a dist-info folder with METADATA and entry_points.txt."""
    info = site / f"{dist}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[lra.mixers]\n{entry_points}\n")


def test_entry_points_add_models_to_the_cli_and_a_broken_one_is_one_line(tmp_path, listops_dir):
    """The example package installed by pip (into a folder, so the test environment is left as it was)."""
    pytest.importorskip("setuptools")  # pip builds the example with the environment's setuptools, offline
    site, source = tmp_path / "site", tmp_path / "example"  # built from a copy: the build writes beside its source
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), str(source)], check=True, capture_output=True, timeout=300)
    assert (site / "lra_gated_conv-0.1.0.dist-info" / "entry_points.txt").is_file()
    _installed(site, "broken_plugin", "broken = no_such_module:Mixer")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}

    def lra_cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lra", *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)

    listed = lra_cli("models")
    assert listed.returncode == 0 and "gated_conv" in listed.stdout and "transformer" in listed.stdout
    assert listed.stderr.count("\n") == 1 and "'broken'" in listed.stderr and "no_such_module" in listed.stderr
    checked = lra_cli("check", "gated_conv")
    assert checked.returncode == 0 and "0 failed" in checked.stdout
    trained = lra_cli("train", "--task", "listops", "--preset", "tiny", "--model", "gated_conv", "--quiet",
                      "--out", str(tmp_path / "run"), *set_args([*FAST, f"data.data_dir={listops_dir}",
                                                                 "train.steps=2"]))
    assert trained.returncode == 0, trained.stderr
    benched = lra_cli("bench", "--task", "listops", "--models", "gated_conv", "--lengths", "64", "--device", "cpu",
                      "--repeats", "1", "--warmup", "0", "--quiet", "--out", str(tmp_path / "bench"))
    assert benched.returncode == 0, benched.stderr
    assert "gated_conv" in (tmp_path / "bench" / "table.md").read_text()
    broken = lra_cli("check", "broken")
    assert broken.returncode == 2 and broken.stderr.startswith("lra: error: model 'broken' is a plugin that failed")
