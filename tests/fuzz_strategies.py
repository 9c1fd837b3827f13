"""Hypothesis strategies for the fuzz suite (tests/test_fuzz.py): hostile input for every surface.

A fuzz case starts from a VALID document (an architecture from :mod:`strategies`, or the
bundled scenario, DR and rollout files on a small budget) and corrupts ONE place of it, so the
corruption reaches the validator of that field rather than being stopped by an earlier one:

- :func:`hostile_yaml` — one YAML value as text (so that ``.nan``, ``.inf``, ``1e400``, tags,
  aliases and 500-deep nesting are written as a user would write them): extremes, NaN and
  infinities, huge integers, wrong types, console markup, terminal escapes, unicode (RTL marks,
  combining characters, NUL), huge strings, deep nesting, bad paths;
- :func:`mutations` — where and how: replace a value (a leaf or a whole mapping or list), add
  an unknown key, drop a key, or repeat a key (duplicate keys);
- :func:`hostile_documents` — whole files that are not documents (empty, binary, not UTF-8,
  an alias bomb, a list, a scalar);
- :func:`hostile_option` — one command-line option value as text.

:func:`apply` writes the corrupted document as YAML text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from hypothesis import strategies as st

SENTINEL = "FUZZ_SENTINEL_5e1c"

Path_ = tuple[str | int, ...]

# --------------------------------------------------------------------------- values


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escapes are YAML's; other characters as UTF-8)."""
    return json.dumps(text, ensure_ascii=False)


# Numbers as a user writes them in YAML: the extremes, the special floats, huge integers.
NUMBERS = (
    "0",
    "-1",
    "-0.0",
    "1e-300",
    "5e-324",
    "1e308",
    "1e400",
    "-1e400",
    "1.7976931348623157e308",
    ".nan",
    ".inf",
    "-.inf",
    "1e12",
    "1e9",
    "2147483648",
    "9223372036854775808",
    "-9223372036854775809",
    "9" * 5000,  # past int()'s 4,300-digit limit
    "0x7fffffff",
    "0o777",
    "1_000_000_000_000",
)
# The same, as the strings a duration or a percentage is written in.
NUMBER_TEXTS = (
    "inf",
    "nan",
    "1e400s",
    "9x400s",
    "-5min",
    "0s",
    "1e308h",
    "1e-9s",
    "1e400%",
    "-1%",
    "p99<=infms",
    "p99<=nanms",
    "errors<=1e400%",
    "throughput>=-5%",
)
# Console markup, terminal escapes, HTML, unicode, format strings.
TEXTS = (
    "[/x]",
    "[link=https://evil.example]click[/link]",
    "[bold red]alarm[/]",
    "\x1b[2J\x1b[H",
    "\x1b]0;pwned\x07",
    "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",
    "a\rb",
    "<a href='https://evil.example'>x</a><script>alert(1)</script>",
    "\u202eevil\u202c",
    "e\u0301\u0301\u0301\u0301",
    "nul\x00byte",
    "\ud7ff\uffff",
    "💯 :100: emoji",
    "%s%n{0}{x}${HOME}",
    "",
    " ",
    "x" * 100_000,
    "[/x]" * 5_000,
)
PATHS = (
    "../../etc/passwd",
    "/etc/passwd",
    "/dev/full",
    "/dev/zero",
    "/dev/null",
    ".",
    "..",
    "no/such/file.yaml",
    "...yaml",
    "x" * 300 + ".yaml",
    "~/.ssh/id_rsa",
    "file:///etc/passwd",
)
# Wrong types and structures, written as YAML.
STRUCTURES = (
    "null",
    "~",
    "true",
    "[]",
    "{}",
    "[1, 2, 3]",
    "{a: 1}",
    "[[[[]]]]",
    "!!binary aGVsbG8=",
    "!!python/object/apply:os.system ['true']",
    "!!timestamp 2001-12-14",
    "*undefined_alias",
    '"lone \\udc80 surrogate"',  # YAML's escape of half a UTF-16 pair: not text
    "[" * 500 + "]" * 500,
    "{a: " * 300 + "1" + "}" * 300,
    "[" + ", ".join(["1"] * 20_000) + "]",
)


def hostile_yaml() -> st.SearchStrategy[str]:
    """One hostile YAML value, as text that can stand where a value stands in block YAML."""
    return st.one_of(
        st.sampled_from(NUMBERS),
        st.sampled_from(NUMBER_TEXTS).map(_quoted),
        st.sampled_from(TEXTS).map(_quoted),
        st.sampled_from(PATHS).map(_quoted),
        st.sampled_from(STRUCTURES),
        st.floats(allow_nan=True, allow_infinity=True).map(_yaml_float),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.text(
            st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=20
        ).map(_quoted),
    )


def _yaml_float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return repr(value)


# --------------------------------------------------------------------------- documents


def paths(data: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every place in ``data`` (a YAML document as dicts and lists), parents before children."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*prefix, key)
            yield from paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield (*prefix, index)
            yield from paths(value, (*prefix, index))


def get(data: Any, path: Path_) -> Any:
    for step in path:
        data = data[step]
    return data


@dataclass(frozen=True)
class Mutation:
    """One corruption of a document: ``how`` at ``path`` with the hostile ``value`` text."""

    how: str  # "replace", "add_key", "drop", "duplicate"
    path: Path_
    value: str = ""

    def __repr__(self) -> str:
        shown = self.value if len(self.value) < 60 else self.value[:40] + f"…({len(self.value)})"
        return f"Mutation({self.how!r}, {'.'.join(map(str, self.path))!r}, {shown!r})"


@st.composite
def mutations(draw: Callable[..., Any], data: dict[str, Any]) -> Mutation:
    """A corruption of one place of ``data``."""
    places = list(paths(data))
    how = draw(st.sampled_from(["replace", "replace", "replace", "add_key", "drop", "duplicate"]))
    if how == "add_key":
        mappings = [()] + [p for p in places if isinstance(get(data, p), dict)]
        where = draw(st.sampled_from(mappings))
        key = draw(st.sampled_from(["unknown_key", "[/x]", "\x1b[2J", "x" * 300, "__proto__"]))
        return Mutation(how, (*where, key), draw(hostile_yaml()))
    if how == "duplicate":
        mappings = [p for p in places if isinstance(get(data, p), dict) and get(data, p)]
        where = draw(st.sampled_from([(), *mappings]))
        key = draw(st.sampled_from(sorted(map(str, get(data, where)))))
        return Mutation(how, (*where, key), draw(hostile_yaml()))
    path = draw(st.sampled_from(places))
    return Mutation(how, path, draw(hostile_yaml()) if how == "replace" else "")


def apply(data: dict[str, Any], mutation: Mutation) -> str:
    """``data`` with ``mutation`` applied, as YAML text."""
    import copy

    data = copy.deepcopy(data)
    *parent_path, last = mutation.path
    parent = get(data, tuple(parent_path))
    if mutation.how == "drop":
        del parent[last]
        return dump(data)
    if mutation.how == "duplicate":
        # The mapping written in flow style with the key repeated (the last one wins in PyYAML).
        mapping = parent
        items = [f"{_quoted(str(k))}: {json.dumps(v, default=str)}" for k, v in mapping.items()]
        items.append(f"{_quoted(str(last))}: {mutation.value}")
        flow = "{" + ", ".join(items) + "}"
        if not parent_path:
            return flow + "\n"
        grand = get(data, tuple(parent_path[:-1]))
        grand[parent_path[-1]] = SENTINEL
        return dump(data).replace(SENTINEL, flow, 1)
    parent[last] = SENTINEL
    return dump(data).replace(SENTINEL, mutation.value, 1)


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=False, width=10**9)


# Whole files that are no document at all.
DOCUMENTS: tuple[bytes, ...] = (
    b"",
    b"\n\n# only a comment\n",
    b"\x00\x01\x02\xff\xfe binary",
    "name: caf\u00e9\n".encode("latin-1"),  # not UTF-8
    b"\xef\xbb\xbfname: bom\n",
    b"- a\n- list\n",
    b"just a scalar\n",
    b"a: &a [x, x, x, x, x, x, x, x, x]\n"
    + b"".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}]\n".encode()
        for i in range(8)
    ),  # billion laughs: 9^9 nodes
    b"[" * 5000 + b"]" * 5000,
    b"{a: 1, a: 2}\n",
    b"key: 'unterminated\n",
    b"\t- tab indented\n",
    b"--- a\n--- b\n",
    b"x: " + b"9" * 100_000 + b"\n",
)


def hostile_documents() -> st.SearchStrategy[bytes]:
    return st.sampled_from(DOCUMENTS)


# --------------------------------------------------------------------------- options

OPTION_NUMBERS = (
    "0",
    "-1",
    "-0",
    "1e-9",
    "1e308",
    "1e400",
    "-1e400",
    "inf",
    "-inf",
    "nan",
    "1e12",
    "1e9",
    "100000000",
    "9223372036854775808",
    "9" * 5000,
    "0x10",
    "1_000",
    " 5 ",
    "",
)
OPTION_TEXTS = (
    "[/x]",
    "[link=https://evil.example]x[/link]",
    "\x1b[2J",
    "\x1b]0;pwned\x07",
    "\u202eevil",
    "a" * 10_000,
    "-",
    "--json",
)


def hostile_option(kind: str) -> st.SearchStrategy[str]:
    """A value for an option of ``kind`` (``number``, ``text``, ``path``, ``slo`` or ``set``)."""
    texts = st.sampled_from(OPTION_TEXTS)
    if kind == "number":
        return st.one_of(st.sampled_from(OPTION_NUMBERS), texts)
    if kind == "path":
        return st.sampled_from((*PATHS, "out.html", "sub/dir/out.html", "-", ""))
    if kind == "slo":
        return st.one_of(
            st.sampled_from(
                (
                    *NUMBER_TEXTS,
                    "p99<=300ms",
                    "p42<=1ms",
                    "p99<=",
                    "<=",
                    "p99>=300ms",
                    "errors<=200%",
                    "throughput>=0%",
                    "latency",
                )
            ),
            texts,
        )
    if kind == "set":
        keys = st.sampled_from(
            [
                "components.app.replicas",
                "components.app.concurrency",
                "components.app.kind",
                "workload.rate_per_s",
                "workload.requests",
                "components.nope.replicas",
                "components",
                "[/x]",
                "",
            ]
        )
        values = st.sampled_from(
            [
                "1:1e9",
                "1:300000",
                "1:3",
                "1,2",
                "inf",
                "nan",
                "1e400",
                "-1",
                "database",
                "1:3:0",
                "1:3:-1",
                "3:1",
                "a,b",
                "",
                ",",
                "1e308:1e308",
                "[/x]",
            ]
        )
        return st.builds(lambda k, v: f"{k}={v}", keys, values)
    return texts
