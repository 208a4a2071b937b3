"""Mechanism options are checked where they are made (`make_options`, which config resolution calls): every bad
value is one LraError line naming the model and the option, never a ValueError from inside a module."""

import dataclasses
import math
import typing
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
                ({"window_blocks": 2}, "window_blocks"), ({"window_blocks": -1}, "window_blocks")],
    "isab": [({"num_inducing": 0}, "num_inducing")],
    "linear": [({"eps": -1e-6}, "eps"), ({"chunk": 0}, "chunk")],
    "linformer": [({"k": 0}, "k"), ({"k": -3}, "k")],
    "local": [({"window": 0}, "window"), ({"look_backward": -1}, "look_backward"),
              ({"look_forward": -1}, "look_forward")],
    "longformer": [({"window": 0}, "window"), ({"global_tokens": -1}, "global_tokens")],
    "nystrom": [({"num_landmarks": 0}, "num_landmarks"), ({"pinv_iterations": -1}, "pinv_iterations"),
                ({"conv_kernel_size": 4}, "conv_kernel_size"), ({"conv_kernel_size": -3}, "conv_kernel_size"),
                ({"exact_pinv": True, "pinv_iterations": 10}, "pinv_iterations")],
    "performer": [({"nb_features": 0}, "nb_features"), ({"kernel": "gaussian"}, "kernel"),
                  ({"redraw_interval": -1}, "redraw_interval"), ({"eps": -1.0}, "eps"), ({"chunk": 0}, "chunk"),
                  ({"kernel": "relu_deterministic", "nb_features": 64}, "nb_features"),
                  ({"kernel": "relu_deterministic", "redraw_interval": 5}, "redraw_interval")],
    "reformer": [({"bucket_size": 0}, "bucket_size"), ({"n_hashes": 0}, "n_hashes")],
    "routing": [({"num_clusters": 0}, "num_clusters"), ({"window": 0}, "window"), ({"decay": 1.5}, "decay"),
                ({"decay": -0.1}, "decay")],
    "s4d": [({"d_state": 0}, "d_state"), ({"d_state": 7}, "d_state"), ({"dt_min": 0.0}, "dt_min"),
            ({"dt_max": -1.0}, "dt_max"), ({"dt_min": 0.1, "dt_max": 0.01}, "dt_max"), ({"dropout": 1.5}, "dropout"),
            ({"dropout": -0.5}, "dropout"), ({"ssm_lr": -1e-3}, "ssm_lr")],
    "sinkhorn": [({"block_size": 0}, "block_size"), ({"sinkhorn_iterations": 0}, "sinkhorn_iterations"),
                 ({"temperature": 0.0}, "temperature"), ({"temperature": -1}, "temperature"),
                 ({"sortcut_blocks": -1}, "sortcut_blocks")],
    "sparse": [({"pattern": "dilated"}, "pattern"), ({"block": 0}, "block"), ({"summary": -1}, "summary"),
               ({"block": 4, "summary": 5}, "summary"), ({"pattern": "strided", "summary": 3}, "summary")],
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
    with pytest.raises(LraError, match=r"summary=3: .*pattern='strided'.*pattern='fixed'"):
        make_options("sparse", {"pattern": "strided", "summary": 3})


@pytest.mark.parametrize("name, options", [
    ("sparse", {"pattern": "strided", "block": 5}),  # block below the default summary of the fixed pattern
    ("sparse", {"pattern": "strided", "block": 1}),
    ("synthesizer", {"mode": "factorized_random", "rank": 8, "trainable_random": False}),
    ("synthesizer", {"mode": "dense", "mix_dot_product": False}),
    ("performer", {"kernel": "relu", "nb_features": 64, "redraw_interval": 0}),
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
    with pytest.raises(LraError, match="unknown option.*windw.*valid: look_backward, look_forward, window"):
        make_options("local", {"windw": 3})
    with pytest.raises(LraError, match="options must be a mapping"):
        make_options("local", [("window", 3)])

    @dataclass
    class Required:
        size: int  # no default: the dataclass itself raises TypeError when it is missing

    spec = dataclasses.replace(get_spec("local"), name="needs-size", options_cls=Required)
    monkeypatch.setitem(registry_module._REGISTRY, "needs-size", spec)
    with pytest.raises(LraError, match="model 'needs-size' options {}: .*size") as error:
        make_options("needs-size", {})
    assert "\n" not in str(error.value)
