import dataclasses

import pytest

from lra.attention import get_spec, make_options, mechanism_names
from lra.config import RunConfig, apply_overrides, with_current_option_names
from lra.errors import LraError
from lra.presets import preset_names, resolve_config


def test_overrides_are_typed():
    config = apply_overrides(RunConfig(), ["train.lr=0.01", "model.num_layers=2", "model.causal=true",
                                           "model.attention_options.block_size=64", "train.device=cpu"])
    assert config.train.lr == 0.01 and isinstance(config.train.lr, float)
    assert config.model.num_layers == 2 and config.model.causal is True
    assert config.model.attention_options == {"block_size": 64}


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
    config = resolve_config("listops", "local", "tiny", ["model.attention_options.block_size=8"])
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


# Options renamed by the naming scheme (lra/attention/base.py): a config written with an old name still loads.
RENAMES = [(name, old, new) for name in mechanism_names()
           for old, new in getattr(get_spec(name).options_cls, "RENAMED", {}).items()]


@pytest.mark.parametrize("name, old, new", RENAMES)
def test_a_config_json_with_an_old_option_name_loads_as_the_same_run(name, old, new):
    default = {f.name: f.default for f in dataclasses.fields(get_spec(name).options_cls)}[new]
    written = resolve_config("listops", name, "tiny").to_dict()
    options = {k: v for k, v in written["model"]["attention_options"].items() if k != new}
    written["model"]["attention_options"] = {**options, new: default + 2}
    earlier = {**written, "model": {**written["model"], "attention_options": {**options, old: default + 2}}}
    current = RunConfig.from_dict(written)
    with pytest.warns(FutureWarning, match=f"option {old!r} is now called {new!r}"):
        loaded = RunConfig.from_dict(earlier, source="run/config.json")
        made = make_options(name, loaded.model.attention_options)
    assert loaded.to_dict() == earlier, "kept as written, so the run still matches its own checkpoints"
    assert made == make_options(name, current.model.attention_options)
    assert with_current_option_names(earlier) == with_current_option_names(written) == current.to_dict()


def test_an_old_option_name_in_an_override_is_translated_unless_the_preset_sets_the_new_one():
    with pytest.warns(FutureWarning, match="'local' option 'window' is now called 'block_size'"):
        config = resolve_config("text", "local", "tiny", ["model.attention_options.window=8"])
    assert config.model.attention_options == {"window": 8}
    assert with_current_option_names(config.to_dict())["model"]["attention_options"] == {"block_size": 8}
    # tiny listops sets local's block_size=16: a --set under the old name would be the same option twice.
    with pytest.raises(LraError, match=r"^model 'local': option window=8 is the old name of block_size=16; "
                                       r"give block_size only$"):
        resolve_config("listops", "local", "tiny", ["model.attention_options.window=8"])


def test_with_current_option_names_leaves_what_it_cannot_translate():
    for raw in (None, [], {"model": None}, {"model": {"attention": "nope", "attention_options": {"window": 1}}},
                {"model": {"attention": "local", "attention_options": {"window": 1, "block_size": 2}}}):
        assert with_current_option_names(raw) == raw


def test_an_option_override_does_not_leak_into_the_preset():
    assert resolve_config("listops", "local", "tiny", ["model.attention_options.block_size=8"]).model \
        .attention_options == {"block_size": 8}
    assert resolve_config("listops", "local", "tiny").model.attention_options == {"block_size": 16}
