"""Reading a setting given as text or a number (``-p NAME VALUE``, a notebook parameter, papermill's values) into
the type of its field: one rule per type, one yes/no reading."""

from __future__ import annotations

import math
from typing import Any

from .errors import ConfigError

TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")
FLOAT_MAX = 3.4028234663852886e38  # the largest 32-bit float: a larger setting overflows in training


def parse_bool(name: str, text: str) -> bool:
    """The one reading of a yes/no value given as text (``-p``, a notebook parameter): ``true``, ``1``, ``yes`` or
    ``false``, ``0``, ``no`` in any case; anything else is a :class:`ConfigError` naming ``name`` (``config field
    'hflip'``)."""
    word = text.strip().lower()
    if word not in TRUE + FALSE:
        raise ConfigError(f"{name}: cannot use {text!r} (expected one of {', '.join(TRUE + FALSE)})")
    return word in TRUE


def coerce(name: str, value: Any, current: Any) -> Any:
    """Convert an override to the type of the field's current value (papermill passes strings and numbers)."""
    try:
        if isinstance(current, bool):
            return parse_bool(f"config field {name!r}", value) if isinstance(value, str) else bool(value)
        if isinstance(current, tuple):
            items = [v for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)
            kind = type(current[0]) if current else int
            return tuple(coerce(name, v, kind(0)) for v in items)
        if isinstance(current, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if isinstance(current, float):
            number = float(value)
            if not math.isfinite(number) or abs(number) > FLOAT_MAX:
                raise ConfigError(f"config field {name!r}: cannot use {value!r} (a number must be finite and at most "
                                  f"{FLOAT_MAX:.3g} in size: the training computes in 32-bit floats)")
            return number
        return str(value)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config field {name!r}: cannot use {value!r} (expected {type(current).__name__})") from exc
