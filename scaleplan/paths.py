"""Where scaleplan may read and write: files named inside documents, bounded reads, output names.

Reading. A document may name other files: an empirical distribution's or a trace's ``file:``
(next to the architecture), a scenario's candidate ``path:`` and its ``resilience.dr`` /
``resilience.rollout``. :func:`resolve_reference` resolves such a name against the folder of
the document that names it and refuses it when it leaves that folder's tree (symbolic links
followed), so that a spec from elsewhere cannot make scaleplan read ``/etc/shadow`` or
``~/.ssh``. A scenario conventionally sits beside the folders it names (``data/scenarios/`` →
``data/architectures/``, ``data/dr/``), so its tree is the folder that holds its folder
(:func:`scenario_scope`). ``--allow-files-outside`` (the CLI) or the environment variable
``SCALEPLAN_ALLOW_FILES_OUTSIDE=1`` (inherited by the record's kernel and batch workers) lifts
the confinement; nothing else does.

A data file is read whole but never more than :data:`MAX_DATA_FILE_BYTES`, as UTF-8 text
(:func:`read_text_bounded`), and :func:`read_number_column` yields its first column as finite
numbers, at most :data:`MAX_DATA_ROWS` of them. Their errors name the file, the line and the
column, never the content (a line of a secret must not reach a terminal or a log).

Writing. Every output name derived from user text (a scenario file's stem) goes through
:func:`safe_name`; :func:`output_problem` turns the ``OSError`` of a failed write into one
sentence for an :class:`OutputError` (exit 2).
"""

from __future__ import annotations

import csv
import errno
import io
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path

from scaleplan.errors import ScaleplanError

#: The environment variable that lets documents name files outside their folder tree.
ALLOW_OUTSIDE_ENV = "SCALEPLAN_ALLOW_FILES_OUTSIDE"
#: The largest data file (empirical samples, trace) read: 64 MiB.
MAX_DATA_FILE_BYTES = 64 * 2**20
#: The most values one data file may hold.
MAX_DATA_ROWS = 2_000_000
#: The longest output name derived from user text (file systems allow 255 bytes).
MAX_NAME_LENGTH = 100

__all__ = [
    "ALLOW_OUTSIDE_ENV",
    "MAX_DATA_FILE_BYTES",
    "MAX_DATA_ROWS",
    "DataFileError",
    "OutputError",
    "files_outside_allowed",
    "output_problem",
    "read_number_column",
    "read_text_bounded",
    "resolve_reference",
    "safe_name",
    "scenario_scope",
]


class DataFileError(ValueError):
    """A file named in a document that cannot be used (outside its tree, too large, not text,
    not numbers); a ``ValueError`` so that a pydantic validator reports it at its key path."""


class OutputError(ScaleplanError):
    """An output that could not be written (the CLI prints it and exits 2)."""


# --------------------------------------------------------------------------- reading


def files_outside_allowed() -> bool:
    """Whether documents may name files outside their folder tree (the environment says so)."""
    return os.environ.get(ALLOW_OUTSIDE_ENV, "").strip().lower() in {"1", "true", "yes"}


def scenario_scope(base_dir: str | Path) -> Path:
    """The tree a scenario's files must lie in: the folder holding the scenario's folder
    (never a file system's root: a scenario at ``/x.yaml`` keeps its own folder)."""
    folder = Path(base_dir).resolve()
    parent = folder.parent
    return folder if parent == folder or parent == Path(parent.anchor) else parent


def resolve_reference(given: str, base_dir: str | Path, *, scope: str | Path | None = None) -> Path:
    """The file ``given`` names, relative to ``base_dir``, confined to ``scope``'s tree.

    ``scope`` defaults to ``base_dir``. Raises :class:`DataFileError` when the resolved file
    (symbolic links followed) lies outside it and :func:`files_outside_allowed` is false.

    Examples
    --------
    >>> resolve_reference("/etc/passwd", "/tmp")
    Traceback (most recent call last):
    ...
    scaleplan.paths.DataFileError: '/etc/passwd' is outside the folder tree of the file that \
names it (/tmp); run with --allow-files-outside (or SCALEPLAN_ALLOW_FILES_OUTSIDE=1) to read it
    """
    if "\x00" in given:
        raise DataFileError("a file name cannot contain a NUL character")
    path = Path(given)
    path = path if path.is_absolute() else Path(base_dir) / path
    root = Path(scope if scope is not None else base_dir).resolve()
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as error:  # a symlink loop, a name too long
        raise DataFileError(f"{given!r} cannot be resolved ({_reason(error)})") from None
    if not files_outside_allowed() and not resolved.is_relative_to(root):
        raise DataFileError(
            f"{given!r} is outside the folder tree of the file that names it ({root}); run "
            f"with --allow-files-outside (or {ALLOW_OUTSIDE_ENV}=1) to read it"
        )
    return path


def read_text_bounded(path: Path, *, limit: int = MAX_DATA_FILE_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes (a BOM is dropped).

    Raises :class:`DataFileError` for a missing file, a device or folder, a larger file, a
    binary file (a NUL byte) or bytes that are not UTF-8; the message names the byte offset,
    not the bytes.
    """
    name = path.name
    if not path.exists():
        raise DataFileError(f"{name}: file does not exist")
    if not path.is_file():  # a folder, a FIFO, /dev/zero: nothing with a bounded length
        raise DataFileError(f"{name}: is not a regular file")
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)  # a sparse file may claim any size: read, don't stat
    except OSError as error:
        raise DataFileError(f"{name}: cannot be read ({_reason(error)})") from None
    if len(data) > limit:
        raise DataFileError(f"{name}: larger than {limit // 2**20} MiB; refused")
    if b"\x00" in data:
        raise DataFileError(f"{name}: a binary file (NUL byte at offset {data.index(0)}), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataFileError(
            f"{name}: not UTF-8 text (invalid byte at offset {error.start})"
        ) from None


def read_number_column(path: Path, *, max_rows: int = MAX_DATA_ROWS) -> Iterator[tuple[int, float]]:
    """(line, value) for each non-empty row of a CSV file's first column, every value finite.

    A first row that is not a number is a header and skipped. Errors name the line and the
    column, never the cell.
    """
    name = path.name
    reader = csv.reader(io.StringIO(read_text_bounded(path), newline=""))
    count = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # a field over csv's limit, a stray quote
            line = reader.line_num
            raise DataFileError(f"{name} line {line}: not readable as CSV ({error})") from None
        line = reader.line_num
        if not row or not row[0].strip():
            continue
        try:
            value = float(row[0])
        except ValueError:
            if line == 1:
                continue  # a header row
            raise DataFileError(f"{name} line {line}, column 1: not a number") from None
        if not math.isfinite(value):
            raise DataFileError(f"{name} line {line}, column 1: must be a finite number")
        count += 1
        if count > max_rows:
            raise DataFileError(f"{name}: more than {max_rows:,} values; refused")
        yield line, value


def _reason(error: BaseException) -> str:
    return error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__


# --------------------------------------------------------------------------- writing

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str, *, fallback: str = "record") -> str:
    """``text`` as one file or folder name that stays where it is put.

    Only letters, digits, ``.``, ``_`` and ``-`` are kept (others become ``-``), leading dots
    and dashes are dropped (no ``..``, no hidden or option-like names) and the length is
    bounded; what is left empty becomes ``fallback``.

    Examples
    --------
    >>> safe_name("online-shop")
    'online-shop'
    >>> safe_name("..")
    'record'
    >>> safe_name("../../etc/x y")
    'etc-x-y'
    """
    name = _UNSAFE.sub("-", text).lstrip(".-")[:MAX_NAME_LENGTH].rstrip(".-")
    return name or fallback


_HINTS = {
    errno.EISDIR: "it is a folder; give a file name",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENOENT: "its folder does not exist",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ENOSPC: "no space left on the device",
    errno.EACCES: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.EEXIST: "a part of the path is a file, not a folder",  # mkdir met a file
}


def output_problem(path: str | Path, error: OSError, *, kept: str = "", verb: str = "write") -> str:
    """One sentence for a failed write: where, why and, when given, what was kept where."""
    reason = _HINTS.get(error.errno or 0) or _reason(error)
    where = error.filename if error.filename is not None else path
    text = f"cannot {verb} {path}: {reason}"
    if str(where) != str(path):
        text += f" ({where})"
    return text + (f"; {kept}" if kept else "")
