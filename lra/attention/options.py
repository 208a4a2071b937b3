"""Checks shared by the mechanisms' options dataclasses.

Each options dataclass validates itself in `__post_init__`, so a bad option fails where the options are
made (`registry.make_options`, which the config layer calls when it resolves a config), never deep inside a
module. Every failure is one `LraError` line: `model 'NAME' option OPTION=VALUE: expected ...`.

An option that does nothing in the chosen mode is an error too (a silent no-op hides a typo or a
misunderstanding). A dataclass cannot tell a value the user set from its default, so `unused_unless`
rejects a non-default value only.
"""

from __future__ import annotations

import dataclasses
import math
from numbers import Integral, Real
from typing import Any

from lra.errors import LraError


class OptionChecker:
    """`OptionChecker("local", self).integer("block_size", minimum=1)` raises unless self.block_size is an int >= 1."""

    def __init__(self, model: str, options: Any) -> None:
        self.model = model
        self.options = options

    def fail(self, name: str, expected: str) -> LraError:
        value = getattr(self.options, name)
        return LraError(f"model {self.model!r} option {name}={value!r}: expected {expected}")

    def integer(self, name: str, minimum: int | None = None, odd: bool = False) -> OptionChecker:
        value = getattr(self.options, name)
        what = "an odd integer" if odd else "an integer"
        if minimum is not None:
            what += f" >= {minimum}"
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise self.fail(name, what)
        if (minimum is not None and value < minimum) or (odd and value % 2 == 0):
            raise self.fail(name, what)
        return self

    def number(self, name: str, minimum: float | None = None, maximum: float | None = None,
               above: bool = False) -> OptionChecker:
        """A finite real in [minimum, maximum] ((minimum, maximum] with above=True); ints are accepted."""
        value = getattr(self.options, name)
        if minimum is not None and maximum is not None:
            what = f"a number in {'(' if above else '['}{minimum}, {maximum}]"
        elif minimum is not None:
            what = f"a number {'>' if above else '>='} {minimum}"
        else:
            what = "a finite number"
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise self.fail(name, what)
        if minimum is not None and (value <= minimum if above else value < minimum):
            raise self.fail(name, what)
        if maximum is not None and value > maximum:
            raise self.fail(name, what)
        return self

    def probability(self, name: str) -> OptionChecker:
        return self.number(name, 0.0, 1.0)

    def flag(self, name: str) -> OptionChecker:
        if not isinstance(getattr(self.options, name), bool):
            raise self.fail(name, "true or false")
        return self

    def choice(self, name: str, choices: tuple[str, ...]) -> OptionChecker:
        if not isinstance(getattr(self.options, name), str) or getattr(self.options, name) not in choices:
            raise self.fail(name, "one of " + ", ".join(choices))
        return self

    def unused_unless(self, name: str, mode_option: str, used_in: tuple[Any, ...]) -> OptionChecker:
        """`name` only acts when options.<mode_option> is one of used_in: elsewhere it must keep its default."""
        mode = getattr(self.options, mode_option)
        default = {f.name: f.default for f in dataclasses.fields(self.options)}[name]
        value = getattr(self.options, name)
        if mode not in used_in and (type(value) is not type(default) or value != default):
            users = " or ".join(f"{mode_option}={u!r}" for u in used_in)
            raise self.fail(name, f"the default {default!r} with {mode_option}={mode!r}, where it has no effect "
                                  f"(only {users} uses it)")
        return self
