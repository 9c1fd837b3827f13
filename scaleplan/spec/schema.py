"""The kinds of input file scaleplan reads, and the JSON Schema of each, for editors.

Each kind is one root model (:data:`FILE_KINDS`): ``architecture`` (``load_spec``),
``scenario`` (``load_scenario``), ``dr`` (``load_dr``) and ``rollout`` (``load_rollout``).
Costs and NFRs are keys of a scenario, not files of their own. The schemas come from pydantic
(``model_json_schema``: the bounds of :mod:`scaleplan.spec.base` and every ``description=``),
with the shorthands that validators accept before the model sees them (``to: api`` for a list
of targets, ``"p99<=400ms"`` for an SLO, ``"5min"`` for a duration) added as alternatives, so
the bundled files validate against the schema of their kind.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from scaleplan.errors import Problem, SpecError

__all__ = ["FILE_KINDS", "FileKind", "detect_kind", "file_kind", "json_schema", "unknown_kind"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class FileKind:
    """One kind of input file: its root model and the verb that loads it."""

    name: str
    model: str  # "module:Class", imported on first use (the spec imports its kinds lazily)
    loader: str  # "module:function" reading a path
    what: str  # for `scaleplan schema --list` and the errors that name the kinds
    #: Keys only this kind has at its top level (to tell a file's kind from its keys).
    marks: tuple[str, ...]

    def root(self) -> type[BaseModel]:
        module, name = self.model.split(":")
        model = getattr(importlib.import_module(module), name)
        assert isinstance(model, type) and issubclass(model, BaseModel)
        return model

    def load(self, path: Any) -> Any:
        module, name = self.loader.split(":")
        return getattr(importlib.import_module(module), name)(path)


FILE_KINDS: dict[str, FileKind] = {
    kind.name: kind
    for kind in (
        FileKind(
            "architecture",
            "scaleplan.spec.architecture:ArchitectureSpec",
            "scaleplan.spec.architecture:load_spec",
            "components, their calls and a workload (data/architectures/*.yaml)",
            ("components", "entry"),
        ),
        FileKind(
            "scenario",
            "scaleplan.spec.scenario:ScenarioSpec",
            "scaleplan.spec.scenario:load_scenario",
            "a decision: workload, NFRs, candidates, costs, budget (data/scenarios/*.yaml)",
            ("candidates", "criteria", "drivers"),
        ),
        FileKind(
            "dr",
            "scaleplan.spec.dr:DRSpec",
            "scaleplan.spec.dr:load_dr",
            "disaster recovery: data, backups, strategies, objectives (data/dr/*.yaml)",
            ("strategies", "backups", "disasters"),
        ),
        FileKind(
            "rollout",
            "scaleplan.spec.rollout:RolloutSpec",
            "scaleplan.spec.rollout:load_rollout",
            "a release plan: strategy, canary steps, rollback (data/rollouts/*.yaml)",
            ("strategy", "canary", "rollback", "release", "batch_size"),
        ),
    )
}


def unknown_kind(name: str) -> str:
    """What to say of a kind of file that is none: the close one, and the kinds there are."""
    from scaleplan.spec.hints import suggest

    return (
        f"unknown kind of file {name!r}{suggest(name, FILE_KINDS)} "
        f"(expected one of {', '.join(FILE_KINDS)})"
    )


def file_kind(name: str) -> FileKind:
    """The file kind called ``name``; a :class:`SpecError` naming the kinds otherwise."""
    kind = FILE_KINDS.get(name)
    if kind is None:
        raise SpecError([Problem("<kind>", "", unknown_kind(name))])
    return kind


def detect_kind(data: Any) -> tuple[str, str]:
    """The kind of a document told from its top-level keys, and why (for messages).

    A key only one kind has (``candidates``, ``strategies``, ``canary`` …) decides; else the
    kind with the most of the document's keys; an architecture when nothing tells.

    Examples
    --------
    >>> detect_kind({"title": "t", "candidates": []})
    ('scenario', "it has 'candidates'")
    """
    keys = [str(key) for key in data] if isinstance(data, dict) else []
    marked = {kind.name: [key for key in keys if key in kind.marks] for kind in FILE_KINDS.values()}
    if any(marked.values()):
        name = max(FILE_KINDS, key=lambda name: len(marked[name]))
        return name, "it has " + ", ".join(repr(key) for key in marked[name])
    from scaleplan.spec.hints import keys_at

    known = {name: len(keys_at(kind.root(), ()) & set(keys)) for name, kind in FILE_KINDS.items()}
    name = max(FILE_KINDS, key=lambda name: known[name])
    if not known[name]:
        return "architecture", "no key tells its kind"
    return name, f"{known[name]} of its keys are a {name}'s"


_DURATION = {
    "type": "string",
    "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|min|h)\s*$",
    "description": "a duration such as '500ms', '30s', '5min' or '2h'",
}

# Shorthands that validators accept before the model sees them, and the schema must allow too:
# (model, property or "" for the model itself, extra alternatives).
_SHORTHANDS: tuple[tuple[str, str, tuple[dict[str, Any], ...]], ...] = (
    (
        "LoadBalancerSpec",
        "to",
        ({"type": "string"}, {"type": "array", "items": {"type": "string"}}),
    ),
    ("CallSpec", "retries", ({"type": "integer", "minimum": 0},)),
    (
        "SLOSpec",
        "",
        ({"type": "string", "description": "an objective such as 'p99<=400ms', 'errors<=0.1%'"},),
    ),
    ("DurationSpec", "", (_DURATION, {"type": "number", "minimum": 0})),
    ("DurationSpec", "mean", (_DURATION,)),
    ("BackupSpec", "interval", (_DURATION,)),
    ("PITRSpec", "archive_interval", (_DURATION,)),
    ("RecoveryObjective", "", (_DURATION, {"type": "number", "exclusiveMinimum": 0})),
    ("RecoveryObjective", "max", (_DURATION,)),
)


# Keys in seconds that a validator also takes spelled as a duration under another name
# (model, the seconds key, the duration key): a profile phase's `duration: 15min`, a backlog
# NFR's `drain_within: 5min`.
_SPELLED_AS_DURATION: tuple[tuple[str, str, str], ...] = (
    ("PhaseSpec", "duration_s", "duration"),
    ("BacklogNFR", "drain_within_s", "drain_within"),
)


def _duration_spelling(place: dict[str, Any] | None, field: str, spelled: str) -> None:
    """Let ``place`` take ``spelled`` (a duration text) instead of ``field``: exactly one of
    them when ``field`` is required, else at most one."""
    if place is None or field not in place.get("properties", {}):
        return
    place["properties"][spelled] = {
        **_DURATION,
        "description": f"the same as {field}, as a duration such as '15min'",
    }
    if field not in place.get("required", []):
        place["not"] = {"required": [field, spelled]}
        return
    required = [key for key in place.get("required", []) if key != field]
    if required:
        place["required"] = required
    else:
        place.pop("required", None)
    place["oneOf"] = [{"required": [field]}, {"required": [spelled]}]


def _widen(schema: dict[str, Any], alternatives: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """``schema`` or any of ``alternatives``, keeping its description and default outside."""
    described: dict[str, Any] = {
        key: schema[key] for key in ("description", "default", "title") if key in schema
    }
    core = {key: value for key, value in schema.items() if key not in described}
    options = core.get("anyOf", [core]) if set(core) <= {"anyOf"} else [core]
    return {"anyOf": [*options, *alternatives], **described}


def _without_examples(node: Any) -> None:
    """Cut the doctest ``Examples`` section out of every description taken from a docstring
    (an editor shows the description as help; the doctest is for the docs)."""
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            text = item.get("description")
            if isinstance(text, str) and "\nExamples\n--------" in text:
                item["description"] = text.split("\nExamples\n--------")[0].rstrip()
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def json_schema(kind: str = "architecture") -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one kind of file (:data:`FILE_KINDS`).

    Examples
    --------
    >>> json_schema("rollout")["title"]
    'scaleplan rollout'
    >>> "strategies" in json_schema("dr")["required"]
    True
    """
    root = file_kind(kind).root()
    schema = root.model_json_schema()
    definitions = schema.get("$defs", {})
    # A model's own keys first: widening the model moves them into one of its alternatives.
    for model, field, alternatives in sorted(_SHORTHANDS, key=lambda shorthand: not shorthand[1]):
        place = schema if model == root.__name__ else definitions.get(model)
        if place is None:
            continue
        if not field:
            definitions[model] = _widen(place, alternatives)
            continue
        properties = place.get("properties", {})
        if field in properties:
            properties[field] = _widen(properties[field], alternatives)
    for model, field, spelled in _SPELLED_AS_DURATION:
        _duration_spelling(definitions.get(model), field, spelled)
    _without_examples(schema)
    schema["$schema"] = SCHEMA_DIALECT
    schema["title"] = f"scaleplan {kind}"
    return schema
