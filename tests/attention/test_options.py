"""Mechanism options are checked where they are made (`make_options`, which config resolution calls): every bad
value is one LraError line naming the model and the option, never a ValueError from inside a module."""

import dataclasses
import math
import typing
import warnings
from dataclasses import dataclass

import pytest

from lra.attention import get_spec, make_options, mechanism_names
from lra.attention import registry as registry_module
from lra.errors import LraError

ALL = mechanism_names()

# Values of the wrong type for each declared type (strings from a CLI typo, bools where ints are expected...).
WRONG_TYPE = {
    int: ["abc", True, 1.5, None],
    float: ["abc", True, math.nan, math.inf, None],
    bool: ["yes", 1, None],
    str: ["nope", 3, None],
}


def typed_fields(name):
    cls = get_spec(name).options_cls
    hints = typing.get_type_hints(cls)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(cls)]


def assert_rejected(name, options, option):
    with pytest.raises(LraError) as error:
        make_options(name, options)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"model {name!r} option {option}="), message
    assert "expected" in message, message


@pytest.mark.parametrize("name", ALL)
def test_defaults_and_test_options_are_valid(name):
    make_options(name, {})
    make_options(name, get_spec(name).test_options)


@pytest.mark.parametrize("name, option, hint", [(n, o, h) for n in ALL for o, h in typed_fields(n)])
def test_a_value_of_the_wrong_type_is_refused(name, option, hint):
    for value in WRONG_TYPE[hint]:
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            continue  # an int is a fine float
        assert_rejected(name, {option: value}, option)


# Out of range, not a registered name, or given a non-default value in a mode where it does nothing.
BAD = {
    "bigbird": [({"block_size": 0}, "block_size"), ({"num_random_blocks": -1}, "num_random_blocks"),
                ({"num_window_blocks": 2}, "num_window_blocks"),
                ({"num_window_blocks": -1}, "num_window_blocks")],
    "isab": [({"num_inducing": 0}, "num_inducing")],
    "linear": [({"eps": -1e-6}, "eps"), ({"chunk_size": 0}, "chunk_size")],
    "linformer": [({"projected_size": 0}, "projected_size"), ({"projected_size": -3}, "projected_size")],
    "local": [({"block_size": 0}, "block_size"), ({"look_backward": -1}, "look_backward"),
              ({"look_forward": -1}, "look_forward")],
    "longformer": [({"window": 0}, "window"), ({"num_global_tokens": -1}, "num_global_tokens")],
    "nystrom": [({"num_landmarks": 0}, "num_landmarks"), ({"pinv_iterations": -1}, "pinv_iterations"),
                ({"conv_kernel_size": 4}, "conv_kernel_size"), ({"conv_kernel_size": -3}, "conv_kernel_size"),
                ({"exact_pinv": True, "pinv_iterations": 10}, "pinv_iterations")],
    "performer": [({"num_features": 0}, "num_features"), ({"kernel": "gaussian"}, "kernel"),
                  ({"redraw_interval": -1}, "redraw_interval"), ({"eps": -1.0}, "eps"),
                  ({"chunk_size": 0}, "chunk_size"),
                  ({"kernel": "relu_deterministic", "num_features": 64}, "num_features"),
                  ({"kernel": "relu_deterministic", "redraw_interval": 5}, "redraw_interval")],
    "reformer": [({"block_size": 0}, "block_size"), ({"num_hashes": 0}, "num_hashes")],
    "recurrent": [({"segment_size": 0}, "segment_size"), ({"segment_size": 2.5}, "segment_size"),
                  ({"num_memory_segments": -1}, "num_memory_segments")],
    "routing": [({"num_clusters": 0}, "num_clusters"), ({"block_size": 0}, "block_size"), ({"decay": 1.5}, "decay"),
                ({"decay": -0.1}, "decay")],
    "s4d": [({"d_state": 0}, "d_state"), ({"d_state": 7}, "d_state"), ({"dt_min": 0.0}, "dt_min"),
            ({"dt_max": -1.0}, "dt_max"), ({"dt_min": 0.1, "dt_max": 0.01}, "dt_max"), ({"dropout": 1.5}, "dropout"),
            ({"dropout": -0.5}, "dropout"), ({"ssm_lr": -1e-3}, "ssm_lr")],
    "sinkhorn": [({"block_size": 0}, "block_size"), ({"sinkhorn_iterations": 0}, "sinkhorn_iterations"),
                 ({"temperature": 0.0}, "temperature"), ({"temperature": -1}, "temperature"),
                 ({"num_sortcut_blocks": -1}, "num_sortcut_blocks")],
    "sparse": [({"pattern": "dilated"}, "pattern"), ({"block_size": 0}, "block_size"),
               ({"summary_size": -1}, "summary_size"), ({"block_size": 4, "summary_size": 5}, "summary_size"),
               ({"pattern": "strided", "summary_size": 3}, "summary_size")],
    "synthesizer": [({"mode": "linear"}, "mode"), ({"rank": 0}, "rank"), ({"mode": "random", "rank": 8}, "rank"),
                    ({"mode": "dense", "rank": 8}, "rank"),
                    ({"mode": "dense", "trainable_random": False}, "trainable_random")],
}


@pytest.mark.parametrize("name, options, option", [(n, o, opt) for n, cases in BAD.items() for o, opt in cases])
def test_a_bad_value_is_refused_when_the_options_are_made(name, options, option):
    assert_rejected(name, options, option)


def test_every_mechanism_with_options_has_bad_value_cases():
    with_options = {n for n in ALL if dataclasses.fields(get_spec(n).options_cls)}
    assert with_options == set(BAD), "add bad-value cases for a new mechanism's options to BAD"


def test_an_unused_option_names_its_mode_and_the_modes_that_use_it():
    with pytest.raises(LraError, match=r"rank=8: .*mode='random'.*mode='factorized_random'"):
        make_options("synthesizer", {"mode": "random", "rank": 8})
    with pytest.raises(LraError, match=r"summary_size=3: .*pattern='strided'.*pattern='fixed'"):
        make_options("sparse", {"pattern": "strided", "summary_size": 3})


@pytest.mark.parametrize("name, options", [
    ("sparse", {"pattern": "strided", "block_size": 5}),  # below the fixed pattern's default summary_size
    ("sparse", {"pattern": "strided", "block_size": 1}),
    ("synthesizer", {"mode": "factorized_random", "rank": 8, "trainable_random": False}),
    ("synthesizer", {"mode": "dense", "mix_dot_product": False}),
    ("performer", {"kernel": "relu", "num_features": 64, "redraw_interval": 0}),
    ("performer", {"kernel": "relu_deterministic", "eps": 1e-6}),
    ("nystrom", {"exact_pinv": True, "conv_kernel_size": 35}),
    ("s4d", {"dt_min": 0.01, "dt_max": 0.01, "ssm_lr": 0}),
    ("routing", {"decay": 1}),
])
def test_valid_combinations_are_accepted(name, options):
    made = make_options(name, options)
    for key, value in options.items():
        assert getattr(made, key) == value


def test_unknown_names_and_a_type_error_from_the_dataclass_become_one_line_errors(monkeypatch):
    with pytest.raises(LraError, match="unknown option.*windw.*valid: block_size, look_backward, look_forward"):
        make_options("local", {"windw": 3})
    with pytest.raises(LraError, match="options must be a mapping"):
        make_options("local", [("block_size", 3)])

    @dataclass
    class Required:
        size: int  # no default: the dataclass itself raises TypeError when it is missing

    spec = dataclasses.replace(get_spec("local"), name="needs-size", options_cls=Required)
    monkeypatch.setitem(registry_module._REGISTRY, "needs-size", spec)
    with pytest.raises(LraError, match="model 'needs-size' options {}: .*size") as error:
        make_options("needs-size", {})
    assert "\n" not in str(error.value)


# One naming scheme (lra/attention/base.py): classes and the renamed options of every mechanism.
def test_classes_are_named_name_attention_or_mixer_with_name_options():
    for name in ALL:
        spec = get_spec(name)
        suffix = "Attention" if spec.kind == "attention" else "Mixer"
        assert spec.cls.__name__.endswith(suffix), (name, spec.cls.__name__)
        assert spec.options_cls.__name__ == spec.cls.__name__[: -len(suffix)] + "Options", name


def test_the_old_class_names_stay_as_aliases():
    from lra.attention.isab import InducingPointAttention, IsabAttention
    from lra.attention.s4d import S4D, S4DMixer

    assert InducingPointAttention is IsabAttention and S4D is S4DMixer


RENAMES = [(name, old, new) for name in ALL
           for old, new in getattr(get_spec(name).options_cls, "RENAMED", {}).items()]


def test_the_renames_of_the_naming_scheme_are_declared():
    assert {(name, old): new for name, old, new in RENAMES} == {
        ("local", "window"): "block_size", ("routing", "window"): "block_size",
        ("sparse", "block"): "block_size", ("sparse", "summary"): "summary_size",
        ("reformer", "bucket_size"): "block_size", ("reformer", "n_hashes"): "num_hashes",
        ("performer", "nb_features"): "num_features", ("performer", "chunk"): "chunk_size",
        ("linear", "chunk"): "chunk_size", ("linformer", "k"): "projected_size",
        ("longformer", "global_tokens"): "num_global_tokens", ("bigbird", "window_blocks"): "num_window_blocks",
        ("sinkhorn", "sortcut_blocks"): "num_sortcut_blocks",
    }


def renamed_value(name, new):
    """A valid value of option `new` other than its default: ints move by 2 (bigbird's window stays odd)."""
    default = {f.name: f.default for f in dataclasses.fields(get_spec(name).options_cls)}[new]
    return default + 2 if isinstance(default, int) and not isinstance(default, bool) else default


@pytest.mark.parametrize("name, old, new", RENAMES)
def test_an_old_name_is_a_field_no_more_and_its_new_name_is(name, old, new):
    fields = {f.name for f in dataclasses.fields(get_spec(name).options_cls)}
    assert new in fields and old not in fields


@pytest.mark.parametrize("name, old, new", RENAMES)
def test_an_old_option_name_gives_the_same_options_as_the_new_one(name, old, new):
    value = renamed_value(name, new)
    with pytest.warns(FutureWarning, match=f"model {name!r} option {old!r} is now called {new!r}"):
        made = make_options(name, {old: value})
    assert made == make_options(name, {new: value})
    assert getattr(made, new) == value != getattr(make_options(name, {}), new)


@pytest.mark.parametrize("name, old, new", RENAMES)
def test_an_old_name_with_a_bad_value_is_refused_under_the_new_name(name, old, new):
    with pytest.warns(FutureWarning):
        assert_rejected(name, {old: "abc"}, new)


@pytest.mark.parametrize("name, old, new", RENAMES)
def test_an_option_given_under_its_old_and_new_names_is_refused(name, old, new):
    value = renamed_value(name, new)
    for given in ({old: value, new: value}, {new: value, old: getattr(make_options(name, {}), new)}):
        with pytest.raises(LraError) as error:
            make_options(name, given)
        message = str(error.value)
        assert "\n" not in message
        assert f"option {old}=" in message and f"{new}=" in message and message.startswith(f"model {name!r}")


@pytest.mark.parametrize("name, old, new", RENAMES)
def test_an_unknown_option_beside_an_old_name_is_still_refused_by_name(name, old, new):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with pytest.raises(LraError, match=f"unknown option\\(s\\) {old}_typo for model {name!r}; valid: ") as error:
            make_options(name, {old: renamed_value(name, new), f"{old}_typo": 1})
    assert old not in str(error.value).split("valid: ")[1].split(", ")  # nor listed as a valid name
