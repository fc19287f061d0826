"""Fast text tables of numbers, written exactly as pandas' ``to_csv`` writes them.

Formatting floats is the cost of a large CSV (Python's ``repr`` is about 0.3 us
a number). The whole table is formatted in one call by ``orjson``, whose
floats are Python's shortest round-trip digits too:

* integer columns travel as floats ``v + 2**-10`` (below 2**22, so exact and written in full), which
  orjson writes ``v.0009765625``; removing that suffix from the integer
  columns' fields leaves ``v`` (a float field with the same digits keeps them;
  an integer field without them sends the table to the slow path). The text is
  cleaned (brackets, ``null``, tags) by numpy on its bytes, not by ``bytes.replace``;
* rows orjson would write differently (a number below 1e-4 in magnitude, which
  ``repr`` writes with an exponent, or an infinity, which JSON cannot hold) are
  formatted with ``repr``.

Without orjson, if its output ever differs on a probe of awkward numbers, or
for columns that are neither floats nor integers, everything goes through
``repr``: the text is the same either way.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["number_rows", "parse_table"]

# Numbers whose formatting differs between number writers (exponent thresholds, signed zero, long digits).
_PROBE = np.array([0.0, -0.0, 1e-4, -2.5e-4, 0.1, 1 / 3, 4.0, 1234567.0, 123456789012345.6, 999999999999999.9,
                   9999999999999998.0, 1e16, 1.2345678901234568e17, 1e22, -1.7976931348623157e308,
                   4.0009765625, -4.0009765625, 0.0009765625, 4194303.0009765625])  # fmt: skip
_INT_TAG = 2.0**-10  # added to integer cells (away from zero); orjson writes it as this suffix
_INT_SUFFIX = b".0009765625"
# Below 2**22 the float v + 2**-10 is exact and no shorter decimal rounds to it (its spacing is under 1e-9),
# so its shortest repr is v followed by the suffix.
_INT_LIMIT = 2**22


@lru_cache(maxsize=1)
def _orjson():
    """``orjson`` if it is installed and writes the probe numbers exactly as ``repr`` does, else ``None``."""
    try:
        import orjson
    except ImportError:
        return None
    try:
        text = orjson.dumps(_PROBE, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    except Exception:  # noqa: BLE001 - any failure means: do not use it
        return None
    return orjson if text == "[" + ",".join(map(repr, _PROBE.tolist())) + "]" else None


def _repr_rows(columns: Sequence[np.ndarray], sep: str) -> list[str]:
    return [sep.join(map(repr, row)) for row in zip(*[c.tolist() for c in columns], strict=True)]


def _fast_rows(arrays: list[np.ndarray], sep: str, nan: str = "") -> str | None:
    """The rows (NaN written as ``nan``) through orjson, or ``None`` when this table must take the ``repr`` path."""
    orjson = _orjson()
    if orjson is None or sep not in (",", "\t"):
        return None
    block = np.empty((len(arrays[0]), len(arrays)))
    for j, a in enumerate(arrays):
        if a.dtype.kind == "f" and a.dtype.itemsize <= 8:
            block[:, j] = a  # float32 -> float64 is exact; repr of the Python float is of that double
        elif a.dtype.kind in "iu":
            if a.size and (int(a.max()) >= _INT_LIMIT or int(a.min()) <= -_INT_LIMIT):
                return None
            block[:, j] = a + np.where(a < 0, -_INT_TAG, _INT_TAG)
        else:
            return None  # bool, object, ...: repr decides
    with np.errstate(invalid="ignore"):
        mag = np.abs(block)
        odd_rows = np.flatnonzero((((mag < 1e-4) & (mag > 0)) | np.isinf(block)).any(axis=1))
    raw = orjson.dumps(block, option=orjson.OPT_SERIALIZE_NUMPY)
    if nan:
        raw = raw.replace(b"null", nan.encode())  # (N and a are not among the bytes _clean drops)
    out = _clean(raw, block.shape, [j for j, a in enumerate(arrays) if a.dtype.kind in "iu"], sep)
    if out is None:
        return None  # some float shares the tag's digits: do not guess which is which
    if len(odd_rows):
        lines = out.split("\n")
        for i, line in zip(odd_rows.tolist(), _repr_rows([a[odd_rows] for a in arrays], sep), strict=True):
            lines[i] = line.replace("nan", nan)
        out = "\n".join(lines)
    return out + "\n"


_BRACKETS_AND_NULL = np.zeros(256, bool)
_BRACKETS_AND_NULL[[ord(c) for c in "[]nul"]] = True


def _clean(raw: bytes, shape: tuple[int, int], int_columns: list[int], sep: str) -> str | None:
    """orjson's ``[[a,b],[c,d]]`` as CSV rows ``a,b\nc,d`` (no final newline): ``null`` fields emptied, the
    integer tags removed. ``None`` when an integer field does not end in the tag (then the table takes the
    slow path). Byte operations on the whole text at once, with numpy (``bytes.replace`` is slower)."""
    buf = np.frombuffer(raw, np.uint8)[2:-2].copy()
    n_rows, n_cols = shape
    keep = ~_BRACKETS_AND_NULL[buf]  # brackets, and NaN's "null" (no number has these letters)
    row_ends = np.flatnonzero(buf == ord("]"))  # "],[" between rows: the comma becomes the newline
    buf[row_ends + 1] = ord("\n")
    if int_columns:
        # each field ends before a separator (or the text's end); an integer field's last 11 bytes are the tag
        ends = np.append(np.flatnonzero((buf == ord(",")) | (buf == ord("]"))), buf.size)
        if ends.size != n_rows * n_cols:
            return None
        stops = ends.reshape(n_rows, n_cols)[:, int_columns].ravel()
        span = stops[:, None] + np.arange(-len(_INT_SUFFIX), 0)
        if (stops < len(_INT_SUFFIX)).any() or not (buf[span] == np.frombuffer(_INT_SUFFIX, np.uint8)).all():
            return None
        keep[span.ravel()] = False
    if sep != ",":
        buf[buf == ord(",")] = ord(sep)
    return buf[keep].tobytes().decode("ascii")


def number_rows(columns: Sequence[np.ndarray], sep: str, nan: str = "") -> str:
    """Rows of numbers, one column per array, NaN as ``nan`` (an empty field by default); ``""`` when there are no rows.

    The text is what pandas' ``to_csv`` writes for the same columns (floats
    with Python's shortest round-trip ``repr``, so reading returns the same
    float64; integer columns as integers). A float's ``repr`` only contains
    letters in ``nan``, ``inf`` and the exponent, so removing ``nan`` empties
    exactly the missing fields.
    """
    arrays = [np.asarray(c) for c in columns]
    if not arrays or len(arrays[0]) == 0:
        return ""
    if any(a.ndim != 1 or len(a) != len(arrays[0]) for a in arrays):
        raise ValueError("number_rows: columns must be 1-D and of the same length")
    fast = _fast_rows(arrays, sep, nan)
    if fast is not None:
        return fast
    return "\n".join(_repr_rows(arrays, sep)).replace("nan", nan) + "\n"


def parse_table(path: Path, lines: list[str], n_fields: int, sep: str) -> np.ndarray:
    """Parse numeric rows (empty field = NaN) into ``(rows, n_fields)``; ragged rows mean truncation."""
    import pandas as pd

    from ..errors import PoseFileError

    rows = [line for line in lines if line.strip()]
    counts = np.array([line.count(sep) for line in rows], dtype=np.int64)
    # Writers may leave trailing separators; fewer fields than the header is a cut-off file.
    short = np.flatnonzero(counts < n_fields - 1)
    if short.size:
        raise PoseFileError(
            f"{path}: data row {short[0] + 1} has {counts[short[0]] + 1} fields, {n_fields} expected; the file is "
            "truncated or damaged. Write it again."
        )
    if not rows:
        return np.zeros((0, n_fields))
    try:
        table = pd.read_csv(
            io.StringIO("\n".join(rows)),
            sep=sep,
            header=None,
            usecols=range(n_fields),
            dtype=np.float64,
            na_values=[""],
            keep_default_na=True,
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise PoseFileError(f"{path}: non-numeric values where numbers were expected ({exc}).") from exc
    return table.to_numpy(dtype=np.float64)
