"""Fast text tables of numbers, written exactly as pandas' ``to_csv`` writes them.

Formatting floats is the cost of a large CSV (Python's ``repr`` is about 0.3 us
a number). The whole table is formatted in one call by ``orjson``, whose
floats are Python's shortest round-trip digits too, and the text is written as
bytes (:func:`number_rows_bytes`: a 50 MB table is not decoded and encoded again):

* integer columns travel as floats ``v + 2**-10`` (below 2**22, so exact and written in full), which
  orjson writes ``v.0009765625``; removing that suffix from the integer
  columns' fields leaves ``v`` (a float field with the same digits keeps them;
  an integer field without them sends the table to the slow path). The text is
  cleaned (brackets, ``null``, tags) by one ``bytes.translate`` after the few bytes
  that must change were set in place (positions from ``bytes.find``);
* rows orjson would write differently (a number below 1e-4 in magnitude, which
  ``repr`` writes with an exponent, or an infinity, which JSON cannot hold) are
  formatted with ``repr`` and spliced between the orjson blocks around them.

Without orjson, if its output ever differs on a probe of awkward numbers, or
for columns that are neither floats nor integers, everything goes through
``repr``: the text is the same either way.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["number_rows", "number_rows_bytes", "number_rows_chunks", "parse_table"]

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


def _fast_rows(arrays: list[np.ndarray], sep: str, nan: str = "") -> bytes | None:
    """The rows (NaN written as ``nan``) through orjson, or ``None`` when this table must take the ``repr`` path.

    Rows orjson would write differently (see the module docstring) are cut out of its blocks and written by
    ``repr``; the rows between them are one orjson call each.
    """
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
        odd_rows = np.flatnonzero((((mag < 1e-4) & (mag > 0)) | (mag == np.inf)).any(axis=1)).tolist()
    int_columns = [j for j, a in enumerate(arrays) if a.dtype.kind in "iu"]
    pieces: list[bytes] = []
    start = 0
    for stop in [*odd_rows, len(block)]:
        if stop > start:
            raw = orjson.dumps(block[start:stop], option=orjson.OPT_SERIALIZE_NUMPY)
            rows = _clean(raw, block.shape[1], int_columns, sep, nan)
            if rows is None:
                return None  # some float shares the tag's digits: do not guess which is which
            pieces.append(rows)
        if stop < len(block):
            line = _repr_rows([a[stop : stop + 1] for a in arrays], sep)[0]
            pieces.append(line.replace("nan", nan).encode("ascii") + b"\n")
        start = stop + 1
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


# translate tables: the separator (orjson writes commas); brackets (and NaN's "null" when NaN is written as an
# empty field) are deleted: no number has these letters
_SEPARATORS = {",": bytes.maketrans(b"", b""), "\t": bytes.maketrans(b",", b"\t")}
_DELETE = b"[]"
_DELETE_NULL = b"[]nul"


def _clean(raw: bytes, n_cols: int, int_columns: list[int], sep: str, nan: str) -> bytes | None:
    """orjson's ``[[a,b],[c,d]]`` as CSV rows ``a,b\\nc,d\\n``: ``null`` fields emptied (or ``nan``), the
    integer tags removed; ``None`` when an integer field does not end in the tag (the table then takes the
    slow path).

    The comma between rows becomes the newline and the tags' bytes become brackets, in place at positions
    found with ``bytes.find`` (a row's end is its only ``]``); one ``bytes.translate`` then deletes every
    bracket (and ``null``) and sets the separator. Every step is a C loop over the text.
    """
    if nan:
        raw = raw.replace(b"null", nan.encode("ascii"))
    buf = bytearray(raw)
    view = np.frombuffer(buf, np.uint8)
    ends = []  # the "]" that closes each row, then the table's
    find, at = raw.find, raw.find(b"]")
    while at >= 0:
        ends.append(at)
        at = find(b"]", at + 1)
    row_ends = np.array(ends[:-1], dtype=np.int64)
    view[row_ends[:-1] + 1] = ord("\n")  # "],[" between rows: the comma becomes the newline
    view[ends[-1]] = ord("\n")  # the table's "]": the last row's newline
    if int_columns:
        if int_columns == [n_cols - 1]:  # the usual case (a frame number last): the field before each row's "]"
            stops = row_ends
        else:  # each field ends before a separator or its row's "]"
            seps = np.flatnonzero((view == ord(",")) | (view == ord("]")))
            if seps.size != row_ends.size * n_cols:
                return None
            stops = seps.reshape(row_ends.size, n_cols)[:, int_columns].ravel()
        span = stops[:, None] + np.arange(-len(_INT_SUFFIX), 0)
        if (stops < len(_INT_SUFFIX)).any() or not (view[span] == np.frombuffer(_INT_SUFFIX, np.uint8)).all():
            return None
        view[span.ravel()] = ord("[")  # deleted below
    return bytes(buf.translate(_SEPARATORS[sep], _DELETE if nan else _DELETE_NULL))


def number_rows(columns: Sequence[np.ndarray], sep: str, nan: str = "") -> str:
    """Rows of numbers, one column per array, NaN as ``nan`` (an empty field by default); ``""`` when there are no rows.

    The text is what pandas' ``to_csv`` writes for the same columns (floats
    with Python's shortest round-trip ``repr``, so reading returns the same
    float64; integer columns as integers). A float's ``repr`` only contains
    letters in ``nan``, ``inf`` and the exponent, so removing ``nan`` empties
    exactly the missing fields.
    """
    return number_rows_bytes(columns, sep, nan).decode("ascii")


def number_rows_bytes(columns: Sequence[np.ndarray], sep: str, nan: str = "") -> bytes:
    """:func:`number_rows` as ASCII bytes, ready to write (no decoding and encoding of a large text)."""
    return b"".join(number_rows_chunks(columns, sep, nan))


# Numbers per chunk of :func:`number_rows_chunks` (~4 MB of text): the text's buffers are reused from one chunk
# to the next instead of being fresh memory (page faults cost as much as the formatting), and stay in cache.
_CHUNK_NUMBERS = 2**18


def number_rows_chunks(columns: Sequence[np.ndarray], sep: str, nan: str = "") -> Iterator[bytes]:
    """:func:`number_rows` as consecutive ASCII chunks of whole rows, to write one after the other."""
    arrays = [np.asarray(c) for c in columns]
    if not arrays or len(arrays[0]) == 0:
        return
    if any(a.ndim != 1 or len(a) != len(arrays[0]) for a in arrays):
        raise ValueError("number_rows: columns must be 1-D and of the same length")
    n = len(arrays[0])
    step = max(1, _CHUNK_NUMBERS // len(arrays))
    for start in range(0, n, step):
        # each chunk is written on its own: the fast path where it can, repr otherwise (the same text)
        part = arrays if step >= n else [a[start : start + step] for a in arrays]
        fast = _fast_rows(part, sep, nan)
        yield fast if fast is not None else ("\n".join(_repr_rows(part, sep)).replace("nan", nan) + "\n").encode()


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
