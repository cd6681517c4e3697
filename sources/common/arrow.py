"""Arrow for resources that skip dlt's row normalizer: its dlt columns, and nested records → flat columns.

Arrow batches skip dlt's row normalizer, which is what stamps `_dlt_load_id` and `_dlt_id` on dict rows.
A resource that mixes both paths (arrow normally, dicts when a vendor's types drift) must get the same
columns either way: dict batches declare both NOT NULL. Without them on arrow batches, a Postgres COPY load
failed ("missing data for column _dlt_id"), and the warehouse lost the `_dlt_loads` join. So they are on
unless the user turns them off (config.toml or env var): `_dlt_load_id` by dlt's extractor, `_dlt_id` by
the resource itself (`stamp_dlt_ids`), which is cheaper than dlt's normalizer rewriting every file.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

import dlt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.schema.typing import C_DLT_ID, TColumnSchema
from dlt.common.schema.utils import dlt_id_column
from dlt.common.utils import uniq_id_base64

ADD_DLT_LOAD_ID = "normalize.parquet_normalizer.add_dlt_load_id"
ADD_DLT_ID = "normalize.parquet_normalizer.add_dlt_id"
_ADD_DLT_ID_ENV = ADD_DLT_ID.upper().replace(".", "__")
# What we write to turn dlt's own `_dlt_id` stamping off while the resource stamps: dlt reads it as false,
# and its spelling tells a later call that the resource stamps, not that the user turned the ids off.
_STAMPED_BY_RESOURCE = "False"


def ensure_dlt_columns_on_arrow() -> bool:
    """Make arrow items carry `_dlt_load_id` and `_dlt_id` unless the user turned them off.

    `_dlt_load_id` is added by dlt's extractor: turned on when unset. `_dlt_id` (unset or true) is stamped
    by the resource on each table it yields (`stamp_dlt_ids`), and dlt's own stamping is turned off: dlt's
    normalizer would rewrite every parquet file to add it, about 2 us per row (Leads, 100,000 leads: ~1.4 s
    of a ~15 s load). Returns True when the resource must stamp; False when the user set it to false.
    """
    if dlt.config.get(ADD_DLT_LOAD_ID) is None:
        os.environ[ADD_DLT_LOAD_ID.upper().replace(".", "__")] = "true"
    if os.environ.get(_ADD_DLT_ID_ENV) == _STAMPED_BY_RESOURCE:
        return True
    if dlt.config.get(ADD_DLT_ID, bool) is False:
        return False
    os.environ[_ADD_DLT_ID_ENV] = _STAMPED_BY_RESOURCE  # one `_dlt_id` column, not two
    return True


def dlt_id_hint() -> dict[str, TColumnSchema]:
    """Column hint for a stamped `_dlt_id`: what dlt declares when it stamps the ids itself."""
    return {C_DLT_ID: dlt_id_column()}


def stamp_dlt_ids(table: pa.Table) -> pa.Table:
    """`table` with a NOT NULL `_dlt_id` column: a random 80-bit prefix for the table, then the row number
    (unique like dlt's per-row random ids, built in one arrow call)."""
    numbers = pa.array(range(table.num_rows), pa.int64()).cast(pa.string())
    ids = pc.binary_join_element_wise(uniq_id_base64(10), numbers, "")
    return table.append_column(pa.field(C_DLT_ID, pa.string(), nullable=False), ids)


# --- nested records → flat arrow columns -----------------------------------------------------------
#
# Building one nested arrow array from a page's decoded records (`pa.array(records)`: type inference and
# conversion in C++) and flattening it with arrow compute costs about a third of flattening the same
# records row by row in Python (../shared/performance-notes.md). The helpers below reproduce what a
# row-by-row flattener makes: nested objects become `parent__child` columns, lists become JSON text of
# the values as sent, and designated lists (`child_lists`) become the rows of child tables.
#
# Convert each page as soon as it arrives (`nested_array`) and keep the arrays, not the decoded records:
# a batch of live records costs the garbage collector more than decoding them (performance-notes.md).


class ShapeError(ValueError):
    """The records have a shape the vectorized flattening does not reproduce; flatten them row by row."""


FieldPath = tuple[str, ...]  # field names from the record's top level down


def nested_array(records: Sequence[Any], child_lists: Collection[FieldPath] = ()) -> pa.StructArray:
    """`pa.array(records)` with every list whose path is not in `child_lists` turned into JSON text.

    The JSON text is `orjson.dumps` of the value as decoded, taken from `records` (inside an arrow list
    the types would have been unified: `1` read as `1.0`, missing keys as nulls). A child list's own
    elements are searched for lists the same way, so `child_lists` holds full paths, e.g.
    `[("events",), ("events", "values")]`. Raises a `pa.ArrowException` when values of one field have
    types arrow cannot unify, ShapeError when a record is not an object.
    """
    array = pa.array(records)
    if not isinstance(array, pa.StructArray) or array.null_count:
        raise ShapeError("the records are not all objects")
    out = _json_lists(array, lambda: records, (), frozenset(child_lists))
    assert isinstance(out, pa.StructArray)
    return out


@functools.lru_cache(maxsize=4096)  # pages of one endpoint mostly share their types: decide once
def _has_json_lists(dtype: pa.DataType, path: FieldPath, child_lists: frozenset[FieldPath]) -> bool:
    if pa.types.is_struct(dtype):
        return bool(_fields_with_json_lists(dtype, path, child_lists))
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return path not in child_lists or _has_json_lists(dtype.value_type, path, child_lists)
    return False


@functools.lru_cache(maxsize=4096)
def _fields_with_json_lists(
    dtype: pa.StructType, path: FieldPath, child_lists: frozenset[FieldPath]
) -> tuple[int, ...]:
    return tuple(i for i, f in enumerate(dtype) if _has_json_lists(f.type, (*path, f.name), child_lists))


def _json_lists(
    array: pa.Array, records: Callable[[], Sequence[Any]] | None, path: FieldPath, child_lists: frozenset[FieldPath]
) -> pa.Array:
    """`array` with its non-child lists as JSON text: written from `records()` (what `array` was built from, row
    for row) when given, else from arrow's own values (`_arrow_list_as_json`)."""
    if not _has_json_lists(array.type, path, child_lists):
        return array
    mask = array.is_null() if array.null_count else None
    if isinstance(array, pa.StructArray):
        names = [field.name for field in array.type]
        children = [array.field(index) for index in range(len(names))]
        for index in _fields_with_json_lists(array.type, path, child_lists):
            field_records = None if records is None else _once(_field_values(records, names[index]))
            children[index] = _json_lists(children[index], field_records, (*path, names[index]), child_lists)
        return pa.StructArray.from_arrays(children, names=names, mask=mask)
    if isinstance(array, pa.ListArray) and path in child_lists:
        elements = None if records is None else _once(_elements(records))
        values = _json_lists(array.values, elements, path, child_lists)
        return pa.ListArray.from_arrays(array.offsets, values, mask=mask)
    return _arrow_list_as_json(array, path) if records is None else lists_as_json(records())


def _field_values(records: Callable[[], Sequence[Any]], name: str) -> Callable[[], list[Any]]:
    return lambda: [r.get(name) if isinstance(r, dict) else None for r in records()]


def _elements(records: Callable[[], Sequence[Any]]) -> Callable[[], list[Any]]:
    return lambda: [element for r in records() for element in (r or ())]


def _once(make: Callable[[], list[Any]]) -> Callable[[], list[Any]]:
    cache: list[list[Any]] = []

    def get() -> list[Any]:
        if not cache:
            cache.append(make())
        return cache[0]

    return get


def json_lists_from_arrow(array: pa.Array, child_lists: Collection[FieldPath] = ()) -> pa.Array:
    """What `nested_array` makes, from an array arrow built itself (pyarrow's JSON reader, arrow_json.py):
    every list whose path is not in `child_lists` as JSON text (`orjson.dumps` of its values).

    Only the values arrow holds are at hand, not the records, so it refuses (ShapeError) the lists whose
    text could differ from the text of the values as decoded: a float (arrow reads `1` as `1.0` beside
    `1.5`) or a NULL inside (a missing key reads as NULL) anywhere in them. Objects keep arrow's key order
    (first seen on the page), a different text of the same JSON only where a vendor varies its key order.
    """
    return _json_lists(array, None, (), frozenset(child_lists))


def _arrow_list_as_json(array: pa.Array, path: FieldPath) -> pa.Array:
    if not isinstance(array, pa.ListArray) or array.offset or not _exact_as_text(array.values):
        raise ShapeError(f"{'.'.join(path)!r} cannot be written as the JSON text it was sent as")
    lengths = array.value_lengths()  # NULL for a NULL list
    texts = pc.if_else(pc.is_null(lengths), pa.scalar(None, pa.string()), pa.scalar("[]"))
    filled = pc.fill_null(pc.greater(lengths, 0), False)
    if not pc.any(filled).as_py():
        return texts
    # Usually a few lists on a page: only those go through Python.
    dumps = orjson.dumps
    written = [dumps(value).decode() for value in array.filter(filled).to_pylist()]
    return pc.replace_with_mask(texts, filled, pa.array(written, pa.string()))


def _exact_as_text(values: pa.Array) -> bool:
    """No float and no NULL below the list's own elements: `to_pylist` then gives the values as decoded."""
    kind = values.type
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind) or pa.types.is_temporal(kind):
        return False
    if isinstance(values, pa.StructArray):
        return all(
            values.field(i).null_count == 0 and _exact_as_text(values.field(i)) for i in range(values.type.num_fields)
        )
    if isinstance(values, pa.ListArray | pa.LargeListArray):
        return _exact_as_text(values.flatten())
    return True


def lists_as_json(values: Iterable[Any]) -> pa.Array:
    """JSON text of each value (None stays NULL), as `orjson.dumps(value).decode()` writes it."""
    dumps = orjson.dumps
    return pa.array([None if v is None else dumps(v).decode() for v in values], pa.string())


def release_arrow_memory() -> None:
    """Return freed memory the allocators keep for reuse to the OS: arrow's pool and, on glibc, the C heap
    the decoded JSON lived in. After a Leads extract they held ~90 MB (mimalloc, pyarrow's default pool) and
    30 MB (100,000 leads) to 90 MB (1,000,000) of freed blocks no one reuses: the load after it is DuckDB's.
    Cheap: ~1 ms a call (Leads calls it after each batch)."""
    pa.default_memory_pool().release_unused()
    if _malloc_trim is not None:
        _malloc_trim(0)


def _glibc_malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        return None
    return trim


_malloc_trim = _glibc_malloc_trim()


def concat_tables(tables: Sequence[pa.Table]) -> pa.Table:
    """One table from several, columns unified as `pa.array` would have unified them over all rows:
    missing and all-null columns filled with nulls, integers widened to floats, struct fields merged.
    Raises `pa.ArrowException` where that is impossible (e.g. text in one table, numbers in another)."""
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive").combine_chunks()


def explode(lists: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """A list column's elements, each with its row (`parent`) and its index in that row's list (`position`).

    Null lists contribute no elements, like empty ones.
    """
    lengths = pc.fill_null(pc.list_value_length(lists), 0).cast(pa.int64())
    parent = pc.list_parent_indices(lists).cast(pa.int64())
    starts = pc.subtract(pc.cumulative_sum(lengths), lengths)  # first element index of each row
    elements = pc.list_flatten(lists)
    position = pc.subtract(pa.array(range(len(elements)), pa.int64()), pc.take(starts, parent))
    return elements, parent, position


def struct_columns(
    array: pa.StructArray, name: Callable[[str, str], str], *, skip: str | None = None
) -> dict[str, pa.Array]:
    """Flat columns of a struct array, in field order: a nested struct becomes `name(key, prefix)` columns,
    recursively; `skip` (a top-level field) is left out. Raises ShapeError on a list (`nested_array` turns
    them into text) and when two fields would get the same column name."""
    columns: dict[str, pa.Array] = {}

    def walk(struct: pa.StructArray, prefix: str, skipped: str | None) -> None:
        for field, child in zip(struct.type, struct.flatten(), strict=True):
            if field.name == skipped:
                continue
            column = name(field.name, prefix)
            if pa.types.is_struct(field.type):
                walk(child, column, None)
            elif pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
                raise ShapeError(f"{column!r} is a list")
            elif column in columns:
                raise ShapeError(f"two fields are both named {column!r} once flattened")
            else:
                columns[column] = child

    walk(array, "", skip)
    return columns
