"""A page of JSON records decoded straight into arrow by pyarrow's JSON reader, with orjson as the fallback.

Why: on Leads, `orjson.loads` + `pa.array` of a page holds the GIL the whole time, so while the slices'
threads decode pages, the thread that feeds dlt waits (100,000 leads in 1,018 pages: 4.2 s of decoding alone,
~7 s under contention in a run). pyarrow's reader parses in C++ without the GIL, so decoding runs on another core
beside dlt's extract, and it is faster alone too (3.0 s for the same pages, JSON text of other lists included).

The reader must give what `pa.array(orjson.loads(body))` + `nested_array` give, or nothing: wherever it
could differ, the page is decoded by orjson as before and the caller sees the usual list of dicts. It differs
on strings it reads as timestamps (ISO dates), on lists it cannot write back as their JSON text
(`json_lists_from_arrow`), and it fails on what `pa.array` fails on too (a field that is text and number).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any, overload

import orjson
import pyarrow as pa
import pyarrow.json as pj

from .arrow import FieldPath, ShapeError, json_lists_from_arrow

_WRAPPER_KEY = "records"
_PARSE = pj.ParseOptions(newlines_in_values=True)  # a pretty-printed body is one JSON value over many lines


class ArrowRecords(Sequence[Mapping[str, Any]]):
    """A page of records as one arrow struct array (`array`, every field).

    As a sequence it shows each record with only its `view_fields` (a paginator's cursor and key): paging
    reads them, `take` keeps a subset as arrow, and the full records never become Python objects.
    """

    def __init__(self, array: pa.StructArray, view_fields: tuple[str, ...]) -> None:
        self.array = array
        self.view_fields = view_fields
        self._rows: list[dict[str, Any]] | None = None

    def _view(self) -> list[dict[str, Any]]:
        if self._rows is None:
            columns = [_field_values(self.array, name) for name in self.view_fields]
            rows = zip(*columns, strict=True) if columns else ((),) * len(self.array)
            self._rows = [dict(zip(self.view_fields, values, strict=True)) for values in rows]
        return self._rows

    def __len__(self) -> int:
        return len(self.array)

    @overload
    def __getitem__(self, index: int) -> Mapping[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Mapping[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> Any:
        return self._view()[index]

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        return iter(self._view())

    def take(self, indices: list[int]) -> ArrowRecords:
        """The records at `indices`, still one arrow array: a zero-copy slice when they are consecutive (the
        keyset paginator drops the replayed head of a page), else a copy (a `take` of nested data costs
        about a millisecond a page)."""
        start = indices[0] if indices else 0
        if indices == list(range(start, start + len(indices))):
            return ArrowRecords(self.array.slice(start, len(indices)), self.view_fields)
        return ArrowRecords(self.array.take(pa.array(indices, pa.int64())), self.view_fields)


def _field_values(array: pa.StructArray, name: str) -> list[Any]:
    index = array.type.get_field_index(name)
    return [None] * len(array) if index < 0 else array.field(index).to_pylist()


def decode_records(
    body: bytes,
    *,
    child_lists: Collection[FieldPath] = (),
    view_fields: tuple[str, ...] = (),
    integer_fields: tuple[str, ...] = (),
) -> ArrowRecords | Any:
    """`body` (a JSON array of objects) as ArrowRecords, lists not in `child_lists` as JSON text; or, where
    arrow would not give what `nested_array(orjson.loads(body))` gives, `orjson.loads(body)` (which raises
    `orjson.JSONDecodeError`, a ValueError, on a body that is not JSON: the client retries those).
    `integer_fields` must be integers (or absent) on every record, else the page is orjson's: a cursor sent
    as text is the caller's to repair."""
    try:
        return ArrowRecords(_read(body, frozenset(child_lists), integer_fields), view_fields)
    except (pa.ArrowException, ShapeError):
        return orjson.loads(body)


def _read(body: bytes, child_lists: frozenset[FieldPath], integer_fields: tuple[str, ...]) -> pa.StructArray:
    """The reader wants one object per line: the body becomes the value of a one-field object."""
    wrapped = b'{"' + _WRAPPER_KEY.encode() + b'":' + body + b"}"
    options = pj.ReadOptions(use_threads=False, block_size=len(wrapped) + 1)  # one block: the page is one row
    table = pj.read_json(io.BytesIO(wrapped), read_options=options, parse_options=_PARSE)
    if table.num_rows != 1 or table.num_columns != 1 or not pa.types.is_list(table.schema.field(0).type):
        raise ShapeError("the body is not one JSON array")
    records = table.column(0).chunk(0).flatten()
    if len(records) == 0 or not isinstance(records, pa.StructArray) or records.null_count:
        raise ShapeError("not a page of objects")  # an empty page is orjson's: nothing to type
    if _has_temporal(records.type):
        raise ShapeError("the reader took text for a timestamp")
    for name in integer_fields:
        index = records.type.get_field_index(name)
        if index >= 0 and not pa.types.is_integer(records.type.field(index).type):
            raise ShapeError(f"{name!r} is not an integer on every record")
    converted = json_lists_from_arrow(records, child_lists)
    assert isinstance(converted, pa.StructArray)
    return converted


@functools.lru_cache(maxsize=1024)  # pages of one endpoint mostly share their types: decide once
def _has_temporal(dtype: pa.DataType) -> bool:
    if pa.types.is_temporal(dtype):
        return True
    if pa.types.is_struct(dtype):
        return any(_has_temporal(field.type) for field in dtype)
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return _has_temporal(dtype.value_type)
    return False
