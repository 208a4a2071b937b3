import pytest

from lra.config import RunConfig, apply_overrides
from lra.errors import LraError
from lra.presets import preset_names, resolve_config


def test_overrides_are_typed():
    config = apply_overrides(RunConfig(), ["train.lr=0.01", "model.num_layers=2", "model.causal=true",
                                           "model.attention_options.window=64", "train.device=cpu"])
    assert config.train.lr == 0.01 and isinstance(config.train.lr, float)
    assert config.model.num_layers == 2 and config.model.causal is True
    assert config.model.attention_options == {"window": 64}


@pytest.mark.parametrize("item, fragment", [
    ("train.nope=1", "unknown key 'train.nope'"),
    ("nope=1", "unknown key"),
    ("model.num_layers=two", "expected a value of type int"),
    ("train.lr", "expected key=value"),
])
def test_bad_overrides_name_the_problem(item, fragment):
    with pytest.raises(LraError, match=fragment):
        apply_overrides(RunConfig(), [item])


def test_round_trip_through_dict():
    config = resolve_config("listops", "local", "tiny", ["model.attention_options.window=8"])
    assert RunConfig.from_dict(config.to_dict()).to_dict() == config.to_dict()


def test_paper_preset_is_the_released_listops_config():
    config = resolve_config("listops", "transformer", "paper")
    m, t = config.model, config.train
    assert (m.num_layers, m.emb_dim, m.qkv_dim, m.mlp_dim, m.num_heads) == (4, 512, 512, 1024, 8)
    assert (t.batch_size, t.lr, t.warmup_steps, t.weight_decay, t.steps) == (32, 0.05, 1000, 0.1, 5000)
    assert (t.beta1, t.beta2, t.eps) == (0.9, 0.98, 1e-9)
    assert config.data.max_length == 2000 and m.pooling == "cls"


def test_unknown_names():
    assert {"paper", "tiny"} <= set(preset_names())
    with pytest.raises(LraError, match="unknown task 'nope'"):
        resolve_config("nope", "transformer")
    with pytest.raises(LraError, match="unknown model 'nope'"):
        resolve_config("listops", "nope")
    with pytest.raises(LraError, match="unknown preset 'nope'"):
        resolve_config("listops", "transformer", "nope")


def test_preset_tasks_lists_the_files_of_a_preset():
    from lra.presets import preset_tasks

    six = ["image", "listops", "pathfinder", "pathx", "retrieval", "text"]
    assert preset_tasks("tiny") == six, "`lra suite --tasks all --preset tiny` runs these"
    assert set(preset_tasks("paper")) == {*six, "pathfinder64", "pathfinder256"}
    with pytest.raises(LraError, match="unknown preset 'huge'"):
        preset_tasks("huge")


def test_subsets_of_the_data(listops_dir):
    """data.max_examples caps every split; data.max_eval_examples then caps val and test only."""
    from lra.config import DataConfig
    from lra.data.tasks import load_split

    def sizes(**kwargs):
        config = DataConfig(data_dir=str(listops_dir), max_length=40, **kwargs)
        return [len(load_split("listops", split, config)) for split in ("train", "val", "test")]

    assert sizes() == [120, 40, 40]
    assert sizes(max_eval_examples=10) == [120, 10, 10]
    assert sizes(max_examples=30, max_eval_examples=10) == [30, 10, 10]
    assert sizes(max_examples=30) == [30, 30, 30]
