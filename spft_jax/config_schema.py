"""Typed configuration sections: frozen dataclasses whose fields carry their default and a rule.

The pipeline's config (spft_jax/pipeline/run_config.py) and the lower layers' settings that it
embeds (spft_jax.data.prompts.PromptConfig) are sections of this kind. `build` makes one from a
mapping (an ml_collections ConfigDict node) and checks every field on the way, so a bad value is
a `ConfigError` that names the field's path (`config.sft.learning_rate: must be a positive
number, got -1.0`); `to_plain` gives the nested dicts back (what ConfigDict and JSON take).

This module imports nothing of the project but its errors, so any layer can declare a section.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from collections.abc import Callable, Mapping
from typing import Any

from spft_jax.errors import ConfigError

Rule = tuple[Callable[[Any], bool], str]  # (the test a value passes, what it must be)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


POSITIVE_INT: Rule = (lambda v: _is_int(v) and v > 0, "must be a positive integer")
NON_NEGATIVE_INT: Rule = (lambda v: _is_int(v) and v >= 0, "must be an integer >= 0")
POSITIVE: Rule = (lambda v: v > 0, "must be a positive number")
NON_NEGATIVE: Rule = (lambda v: v >= 0, "must be a number >= 0")
UNIT_INTERVAL: Rule = (lambda v: 0 <= v <= 1, "must be in [0, 1]")
OPEN_UNIT_INTERVAL: Rule = (lambda v: 0 < v <= 1, "must be in (0, 1]")
NON_EMPTY: Rule = (bool, "must not be empty")


def one_of(choices) -> Rule:
    return (lambda v: v in choices), f"must be one of {tuple(choices)}"


def sequence_of(choices, non_empty: bool = False) -> Rule:
    what = f"must be a {'non-empty ' if non_empty else ''}sequence of {tuple(choices)}"
    return (lambda v: set(v) <= set(choices) and (len(v) > 0 or not non_empty)), what


def field(default: Any = dataclasses.MISSING, rule: Rule | None = None, *,
          factory: Callable[[], Any] | None = None) -> Any:
    """A section field: its default (or a factory, for a nested section) and its rule."""
    metadata = {"rule": rule}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def default_of(cls, name: str) -> Any:
    """The default a lower layer's dataclass gives `name`: a section field that mirrors it
    reads it from there, so the setting has one definition."""
    default = cls.__dataclass_fields__[name].default
    if default is dataclasses.MISSING:
        raise TypeError(f"{cls.__name__}.{name} has no default")
    return default


def unknown_field_error(path: str, name: str, known) -> ConfigError:
    """`config.<path>.<name>: unknown field (did you mean ...?)`."""
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known))})"
    return ConfigError(f"config.{_join(path, name)}: unknown field{hint}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _typed(where: str, value: Any, kind: Any, rule: Rule | None) -> Any:
    """`value` as the annotated type `kind`; a wrong type is reported with the field's rule
    when it has one (it says more than the type: "a positive integer")."""
    def wrong(what: str):
        raise ConfigError(f"config.{where}: {rule[1] if rule else what}, got {value!r}")

    if kind is bool:
        return value if isinstance(value, bool) else wrong("must be true or false")
    if kind is int:
        return value if _is_int(value) else wrong("must be an integer")
    if kind is float:
        return value if _is_number(value) else wrong("must be a number")
    if kind is str:
        return value if isinstance(value, str) else wrong("must be a string")
    if typing.get_origin(kind) is tuple:
        if isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        return wrong("must be a sequence of strings")
    if kind is dict or typing.get_origin(kind) is dict:
        if hasattr(value, "to_dict"):
            value = value.to_dict()
        return dict(value) if isinstance(value, Mapping) else wrong("must be a mapping")
    raise TypeError(f"config.{where}: a section field of unsupported type {kind!r}")


def build(cls, values: Any, path: str = "", complete: bool = False):
    """An instance of the section dataclass `cls` from a mapping, every field checked. Unknown
    fields are errors; a missing one takes its default, or is an error when `complete` (a config
    that started from the full defaults lost it)."""
    if isinstance(values, cls):
        return values
    if hasattr(values, "to_dict"):  # an ml_collections ConfigDict
        values = values.to_dict()
    if not isinstance(values, Mapping):
        raise ConfigError(f"config.{path or '<root>'}: must be a section, got {values!r}")
    specs = {f.name: f for f in dataclasses.fields(cls)}
    for name in values:
        if name not in specs:
            raise unknown_field_error(path, name, specs)
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, spec in specs.items():
        where, kind = _join(path, name), hints[name]
        if name not in values:
            if complete and dataclasses.is_dataclass(kind):
                build(kind, {}, where, complete)  # names the section's first missing field
            if complete:
                raise ConfigError(f"config.{where}: missing (start from "
                                  "spft_jax.pipeline.defaults.base_config())")
            continue
        if dataclasses.is_dataclass(kind):
            kwargs[name] = build(kind, values[name], where, complete)
            continue
        rule = spec.metadata.get("rule")
        value = _typed(where, values[name], kind, rule)
        if rule is not None:
            try:
                good = rule[0](value)
            except (TypeError, ValueError):
                good = False
            if not good:
                raise ConfigError(f"config.{where}: {rule[1]}, got {value!r}")
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except ConfigError as e:  # a section's own cross-field check (__post_init__)
        raise ConfigError(f"config.{path or '<root>'}: {e}") from None


def to_plain(section) -> dict:
    """A section as nested dicts."""
    out = {}
    for spec in dataclasses.fields(section):
        value = getattr(section, spec.name)
        out[spec.name] = to_plain(value) if dataclasses.is_dataclass(value) else value
    return out


class Section:
    """What every section offers besides its fields."""

    def to_dict(self) -> dict:
        return to_plain(self)
