"""Hints for a mistyped key or name: the keys valid at a key path, where a misplaced key
belongs, and the close match to suggest.

A hint is compared only with what is valid where the mistake is: an unknown key of a
scenario's ``workload`` is matched against the keys a scenario's workload has, not against
every key of every model in the document (that suggested ``title`` → ``file``, a key of a
trace). A suggestion must be close (:data:`SUGGEST_CUTOFF`) or an abbreviation of the valid
word; else there is none. The places are found by walking the pydantic models along the
error's location, so every document kind (architecture, scenario, DR, rollout, load-test
plan) gets them without a table of its own.
"""

from __future__ import annotations

import difflib
import functools
import types
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

__all__ = [
    "SUGGEST_CUTOFF",
    "field_names",
    "key_owners",
    "keys_at",
    "models_at",
    "models_of",
    "suggest",
    "tag_of",
]

#: How alike a word and a valid one must be to suggest it (difflib's ratio: 2 × matching
#: characters ÷ both lengths). At 0.75 ``replica`` → ``replicas`` (0.93) and ``dbb`` → ``db``
#: (0.8) are suggested; ``title`` → ``file`` (0.67) and ``context`` → ``count`` (0.67) are not.
SUGGEST_CUTOFF = 0.75
#: The shortest word taken as an abbreviation of a longer one (``max`` for ``maximum``).
MIN_ABBREVIATION = 3


def suggest(word: str, choices: Iterable[str], cutoff: float = SUGGEST_CUTOFF) -> str:
    """A " (did you mean 'x'?)" hint for a misspelt name, or nothing when none is close.

    Close means difflib's ratio of at least ``cutoff``, or one word an abbreviation (a
    prefix of at least :data:`MIN_ABBREVIATION` characters) of the other.

    Examples
    --------
    >>> suggest("replica", ["replicas", "release"])
    " (did you mean 'replicas'?)"
    >>> suggest("title", ["file", "name"])
    ''
    >>> suggest("maximum", ["max", "base_ms"])
    " (did you mean 'max'?)"
    """
    # Never the refused word itself: a key valid elsewhere is not its own correction.
    options = sorted({str(choice) for choice in choices if choice != word})
    close = difflib.get_close_matches(word, options, n=1, cutoff=cutoff)
    if not close:
        prefixes = [
            option
            for option in options
            if min(len(option), len(word)) >= MIN_ABBREVIATION
            and (option.startswith(word) or word.startswith(option))
        ]
        close = sorted(prefixes, key=lambda option: abs(len(option) - len(word)))[:1]
    return f" (did you mean {close[0]!r}?)" if close else ""


# --------------------------------------------------------------------------- the models


def _leaves(annotation: Any) -> list[Any]:
    """The alternatives of an annotation: ``Annotated`` unwrapped, unions split, no None."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _leaves(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [leaf for arg in get_args(annotation) for leaf in _leaves(arg)]
    return [] if annotation is type(None) else [annotation]


def _is_model(leaf: Any) -> bool:
    return isinstance(leaf, type) and issubclass(leaf, BaseModel)


def _keys(model: type[BaseModel]) -> dict[str, str]:
    """Each key a model takes as written in a file → its field name (aliases included)."""
    keys: dict[str, str] = {}
    for name, field in model.model_fields.items():
        keys[field.alias or name] = name
        keys.setdefault(name, name)
    return keys


def _tags(model: type[BaseModel]) -> set[str]:
    """The literal values of a model's tag fields (``kind: service``, ``dist: lognormal``)."""
    found: set[str] = set()
    for field in model.model_fields.values():
        for leaf in _leaves(field.annotation):
            if get_origin(leaf) is Literal:
                found.update(str(arg) for arg in get_args(leaf))
    return found


def tag_of(model: type[BaseModel]) -> str | None:
    """A component kind's tag (``service``), None for any other model."""
    field = model.model_fields.get("kind")
    if field is None or get_origin(field.annotation) is not Literal:
        return None
    values = get_args(field.annotation)
    # A tagged union's member has one value; WorkloadSpec's kind (open or closed) is no tag.
    return str(values[0]) if len(values) == 1 else None


def _step(leaves: Sequence[Any], part: str | int) -> list[Any]:
    """The alternatives one part of a pydantic error location further in."""
    models = [leaf for leaf in leaves if _is_model(leaf)]
    if len(leaves) > 1 and isinstance(part, str):
        # pydantic names the union member it tried: its tag, or its model's name.
        named = [model for model in models if part in _tags(model) or part == model.__name__]
        if named:
            return named
    found: list[Any] = []
    for model in models:
        name = _keys(model).get(str(part))
        if name is not None:
            found.extend(_leaves(model.model_fields[name].annotation))
    if found:
        return found
    for leaf in leaves:
        origin, args = get_origin(leaf), get_args(leaf)
        if origin in (tuple, list, set, frozenset) and isinstance(part, int) and args:
            if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
                found.extend(_leaves(args[part]) if part < len(args) else [])
            else:
                found.extend(_leaves(args[0]))
        elif origin is dict and len(args) == 2:
            found.extend(_leaves(args[1]))
    # A part pydantic adds of its own (a validator's name): the place stays the same.
    return found or list(leaves)


def models_at(root: type[BaseModel], loc: Sequence[str | int]) -> list[type[BaseModel]]:
    """The models that may sit at ``loc`` (a pydantic error location) of a ``root`` document.

    Examples
    --------
    >>> from scaleplan.spec.scenario import ScenarioSpec
    >>> [model.__name__ for model in models_at(ScenarioSpec, ("workload", "today"))]
    ['WorkloadSpec']
    """
    leaves: list[Any] = [root]
    for part in loc:
        leaves = _step(leaves, part)
    return list(dict.fromkeys(leaf for leaf in leaves if _is_model(leaf)))


def keys_at(root: type[BaseModel], loc: Sequence[str | int]) -> frozenset[str]:
    """The keys valid at ``loc`` of a ``root`` document, as files write them (a field with an
    alias, such as a DR duration's ``mean`` for ``mean_s``, by its alias)."""
    return frozenset(
        field.alias or name
        for model in models_at(root, loc)
        for name, field in model.model_fields.items()
    )


def _children(annotation: Any, path: str) -> list[tuple[type[BaseModel], str]]:
    """The models an annotation holds, each with the key path that reaches it."""
    found: list[tuple[type[BaseModel], str]] = []
    for leaf in _leaves(annotation):
        origin, args = get_origin(leaf), get_args(leaf)
        if _is_model(leaf):
            found.append((leaf, path))
        elif origin in (tuple, list, set, frozenset):
            for arg in args:
                if arg is not Ellipsis:
                    found.extend(_children(arg, f"{path}[]"))
        elif origin is dict and len(args) == 2:
            found.extend(_children(args[1], f"{path}.<name>"))
    return found


@functools.lru_cache(maxsize=16)
def _places(root: type[BaseModel]) -> dict[type[BaseModel], str]:
    """Every model of a ``root`` document → the shortest key path that reaches it ("" for
    the root), breadth first, so a place is named the way a user would find it."""
    places: dict[type[BaseModel], str] = {root: ""}
    pending: list[type[BaseModel]] = [root]
    while pending:
        model = pending.pop(0)
        for name, field in model.model_fields.items():
            key = field.alias or name
            path = f"{places[model]}.{key}" if places[model] else key
            for child, where in _children(field.annotation, path):
                if child not in places:
                    places[child] = where
                    pending.append(child)
    return places


def models_of(root: type[BaseModel]) -> tuple[type[BaseModel], ...]:
    """Every model a ``root`` document can hold, the root first."""
    return tuple(_places(root))


@functools.lru_cache(maxsize=16)
def field_names(root: type[BaseModel]) -> frozenset[str]:
    """Every key a document rooted at ``root`` may have, anywhere in it."""
    return frozenset(key for model in _places(root) for key in _keys(model))


@functools.lru_cache(maxsize=64)
def key_owners(root: type[BaseModel], key: str) -> tuple[str, ...]:
    """Where ``key`` is valid in a document rooted at ``root``, sorted: component kinds by
    their tag (``service``), other parts by their key path (``workload.classes[]``,
    ``components.<name>.autoscale``, ``the top level``).

    Examples
    --------
    >>> from scaleplan.spec.dr import DRSpec
    >>> key_owners(DRSpec, "name")
    ('strategies[]',)
    """
    owners: set[str] = set()
    for model, path in _places(root).items():
        if key in _keys(model):
            owners.add(tag_of(model) or path or "the top level")
    return tuple(sorted(owners))
