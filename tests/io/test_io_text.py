"""The fast number writer (io/_text.py) writes what Python's repr (and pandas' to_csv) writes."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from mocap3d.io import _text
from mocap3d.io._text import number_rows


def _reference(columns, sep):
    """The writer as it was: repr of every value, NaN emptied."""
    rows = zip(*[np.asarray(c).tolist() for c in columns], strict=True)
    text = "\n".join(sep.join(map(repr, row)) for row in rows)
    return text.replace("nan", "") + "\n" if text else ""


def _awkward_columns(rng, n):
    """Floats over many magnitudes (both sides of repr's exponent thresholds), specials, integers, float32."""
    mags = 10.0 ** rng.integers(-12, 25, (n, 5))
    block = rng.standard_normal((n, 5)) * mags
    block[rng.random(block.shape) < 0.1] = np.nan
    specials = np.array([np.inf, -np.inf, -0.0, 0.0, 1e-4, 9.99e-5, 1e16, 5e-324, 1.0, 0.1])
    pick = rng.random(block.shape) < 0.05
    block[pick] = rng.choice(specials, int(pick.sum()))
    ints = rng.integers(-5, 10**6, n)
    f32 = rng.standard_normal(n).astype(np.float32)
    return [block[:, 0], block[:, 1], ints, block[:, 2], f32, block[:, 3], block[:, 4], np.arange(n)]


def test_fast_path_is_taken_and_falls_back_when_it_must():
    """Typical tables go through orjson, a float with the integer tag's digits too (only integer fields lose
    the tag); huge integers do not."""
    rng = np.random.default_rng(5)
    typical = [rng.normal(0, 400, 50), rng.integers(0, 5, 50), np.arange(50)]
    assert _text._orjson() is not None, "orjson is a dependency; without it the writer is 3x slower"
    assert _text._fast_rows(typical, ",") is not None
    huge = [rng.normal(0, 400, 3), np.array([0, 1, 2**40])]
    tagged = [np.array([1.5, 12.0009765625, 3.0]), np.arange(3)]  # a float that looks like a tagged integer
    assert _text._fast_rows(huge, ",") is None
    assert number_rows(huge, ",") == _reference(huge, ",")
    assert _text._fast_rows(tagged, ",").decode() == number_rows(tagged, ",") == _reference(tagged, ",")
    # an integer column in the middle: its fields are found between the separators
    middle = [rng.normal(0, 400, 50), np.arange(50), rng.normal(0, 1, 50)]
    assert _text._fast_rows(middle, "\t").decode() == _reference(middle, "\t")


@pytest.mark.parametrize("nan", ["", "NaN"])
@pytest.mark.parametrize("odd", [[], [0], [7], [19], [0, 1, 5, 19]])
def test_repr_rows_are_spliced_between_orjson_blocks(nan, odd):
    """Rows orjson writes differently (tiny numbers, infinities) come from repr at their place, first and last
    rows included; the others stay on the fast path, NaN written as asked (TRC writes 'NaN')."""
    rng = np.random.default_rng(len(odd))
    block = rng.normal(0, 100, (20, 3))
    block[rng.random(block.shape) < 0.2] = np.nan
    for i, row in enumerate(odd):
        block[row, i % 3] = [3.5e-7, np.inf, -2e-5][i % 3]
    columns = [block[:, 0], np.arange(20) - 3, block[:, 1], block[:, 2], np.arange(20)]
    rows = zip(*[c.tolist() for c in columns], strict=True)
    want = "".join(",".join(map(repr, row)).replace("nan", nan) + "\n" for row in rows)
    assert _text._fast_rows(columns, ",", nan).decode() == number_rows(columns, ",", nan) == want


def test_chunks_are_whole_rows_and_fall_back_one_by_one(monkeypatch):
    """Written in chunks of whole rows (any size), a chunk the fast path cannot take (a float with the integer
    tag's digits beside an integer column, a huge integer) is written by repr alone: the same text."""
    rng = np.random.default_rng(9)
    floats = rng.normal(0, 100, 40)
    floats[13] = 12.0009765625
    ints = np.arange(40)
    ints[31] = 2**40
    columns = [floats, ints, rng.normal(0, 1, 40)]
    for numbers in (3, 7, 30, 1000):
        monkeypatch.setattr(_text, "_CHUNK_NUMBERS", numbers)
        chunks = list(_text.number_rows_chunks(columns, ","))
        assert len(chunks) == -(-40 // max(1, numbers // 3))
        assert all(c.endswith(b"\n") for c in chunks)
        assert b"".join(chunks).decode() == number_rows(columns, ",") == _reference(columns, ",")


@pytest.mark.parametrize("sep", [",", "\t"])
@pytest.mark.parametrize("use_orjson", [True, False])
def test_number_rows_matches_repr(sep, use_orjson, monkeypatch):
    if not use_orjson:
        monkeypatch.setattr(_text, "_orjson", lambda: None)
    rng = np.random.default_rng(3)
    for n in (0, 1, 2, 500):
        columns = _awkward_columns(rng, n)
        assert number_rows(columns, sep) == _reference(columns, sep)
    # Rows that are only NaN, and a single float column.
    nan_rows = [np.full(3, np.nan), np.array([1.5, np.nan, 2e-7])]
    assert number_rows(nan_rows, sep) == _reference(nan_rows, sep)
    single = [rng.standard_normal(7) * 1e3]
    assert number_rows(single, sep) == _reference(single, sep)


def test_number_rows_is_what_pandas_writes():
    rng = np.random.default_rng(4)
    n = 300
    df = pd.DataFrame({"a": rng.standard_normal(n) * 1e3, "b": rng.integers(0, 100, n),
                       "c": np.where(rng.random(n) < 0.2, np.nan, rng.standard_normal(n) * 1e-6)})  # fmt: skip
    buf = io.StringIO()
    df.to_csv(buf, index=False, header=False, lineterminator="\n")
    assert number_rows([df[c].to_numpy() for c in df.columns], ",") == buf.getvalue()


def test_number_rows_rejects_ragged_columns():
    with pytest.raises(ValueError):
        number_rows([np.zeros(3), np.zeros(4)], ",")


def test_bool_and_object_columns_are_written_as_repr():
    columns = [np.array([True, False]), np.array([1.5, np.nan]), np.array([2, 3], dtype=np.uint8)]
    assert number_rows(columns, ",") == _reference(columns, ",") == "True,1.5,2\nFalse,,3\n"
