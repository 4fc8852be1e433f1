"""candidates.parquet: every firm × tier × criterion verdict of the run, merged from the
provinces' parts into credit-code order, in row groups a firm page reads one of.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.run_layout import CANDIDATES_ROW_GROUP


def write_sorted_part(frame: pd.DataFrame, path: Path) -> None:
    """A part for merge_sorted_parts, written by the task that made the frame (a province's
    criteria, while the other provinces work): its rows sorted by credit code, in Arrow IPC
    batches."""
    _sorted_into(pa.Table.from_pandas(frame, preserve_index=False), path)


def _sorted_into(table: pa.Table, path: Path) -> None:
    table = table.replace_schema_metadata(None).combine_chunks()  # one dictionary per column
    if "credit_code" in table.column_names:
        position = table.column_names.index("credit_code")
        codes = table["credit_code"].combine_chunks()
        if not pa.types.is_dictionary(codes.type):
            codes = pc.dictionary_encode(codes)
        table = table.set_column(position, "credit_code", codes)
    kept = table.schema
    # a big part's plain text passes 2 GiB
    table = table.cast(pa.schema([pa.field(f.name, _large(f.type)) for f in kept]))
    if "credit_code" in table.column_names:
        codes = table["credit_code"].chunk(0)
        table = table.take(
            np.argsort(_code_ranks(codes.dictionary)[_indices(codes)], kind="stable")
        )
    # Arrow IPC, not Parquet: written and read back without encoding. A dictionary column
    # (the credit code always) stays one: its values are written once for the file, each
    # batch holds indices; merge_sorted_parts writes the values.
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, kept) as ipc:
        for start in range(0, table.num_rows, CANDIDATES_ROW_GROUP):
            ipc.write_table(table.slice(start, CANDIDATES_ROW_GROUP).cast(kept))


def _code_ranks(codes: pa.Array) -> np.ndarray:
    """The rank of each of `codes` in text order (equal codes, equal ranks; a null code after
    the others), and one more, for a missing code, after them all: rows are sorted by their
    code's rank (integers), never by text."""
    if pa.types.is_null(codes.type):  # no code at all, and no rank kernel for that type
        codes = codes.cast(pa.string())
    ranks = np.empty(len(codes) + 1, dtype=np.int64)
    ranks[:-1] = pc.rank(codes, tiebreaker="dense").to_numpy()
    ranks[-1] = len(codes) + 1
    return ranks


def _indices(codes: pa.DictionaryArray, start: int = 0) -> np.ndarray:
    """A dictionary column's indices plus `start`, a missing value as the index after the
    dictionary."""
    indices = codes.indices
    if not indices.null_count:
        return np.add(indices.to_numpy(), start, dtype=np.int64)
    positions = np.add(indices.fill_null(0).to_numpy(), start, dtype=np.int64)
    positions[indices.is_null().to_numpy(zero_copy_only=False)] = start + len(codes.dictionary)
    return positions


def merge_sorted_parts(parts: list[Path], out: Path) -> None:
    """Merge parts written by write_sorted_part into one Parquet file in credit-code order
    (stable: part order between equal codes), in row groups of CANDIDATES_ROW_GROUP rows, so
    that a reader filtering on a credit code reads one small group, chosen by the groups'
    statistics, instead of the whole table. The parts' code ranges overlap (a firm's code need
    not start with its province's region), so concatenating them would make a reader look in
    a group of every part. Memory holds one batch per part, never the whole table. The columns
    are as the first part has them, dictionaries as their values: Parquet encodes each group
    with its own dictionary, and each part may have chosen other categories anyway."""
    if not parts:
        return
    readers = [pa.ipc.open_file(pa.OSFile(str(p))) for p in parts]  # read, not mapped
    plain = pa.schema([_plain_field(f) for f in readers[0].schema])
    # Parquet encodes a group outside the GIL while the next group is merged: one group in
    # the writer at a time, in order.
    with pq.ParquetWriter(out, plain) as writer, ThreadPoolExecutor(max_workers=1) as encoder:
        writing: Future[None] | None = None
        for group in _row_groups(_merged(readers, plain)):
            if writing is not None:
                writing.result()
            writing = encoder.submit(writer.write_table, group)
        if writing is not None:
            writing.result()


def _row_groups(chunks: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """The rows of `chunks` in groups of CANDIDATES_ROW_GROUP (the last one smaller)."""
    pending: list[pa.Table] = []
    waiting = 0
    for chunk in chunks:
        pending.append(chunk)
        waiting += chunk.num_rows
        while waiting >= CANDIDATES_ROW_GROUP:
            joined = pa.concat_tables(pending)
            yield joined.slice(0, CANDIDATES_ROW_GROUP)
            rest = joined.slice(CANDIDATES_ROW_GROUP)
            pending, waiting = [rest], rest.num_rows
    if waiting:
        yield pa.concat_tables(pending)


def _large(kind: pa.DataType) -> pa.DataType:
    """Text with 64-bit offsets; a dictionary stays one (sorting it moves indices, not text)."""
    wide = {pa.string(): pa.large_string(), pa.binary(): pa.large_binary()}
    return wide.get(kind, kind)


def _plain_field(field: pa.Field) -> pa.Field:
    """A dictionary column as its values; their text as Parquet reads a dictionary back
    (`string`), whether the part came from Parquet or from pandas (`large_string`)."""
    if not pa.types.is_dictionary(field.type):
        return field
    values = field.type.value_type
    return pa.field(field.name, pa.string() if values == pa.large_string() else values)


def _batches(reader: pa.ipc.RecordBatchFileReader) -> Iterator[pa.RecordBatch]:
    for index in range(reader.num_record_batches):
        yield reader.get_batch(index)


def _merged(readers: list[pa.ipc.RecordBatchFileReader], schema: pa.Schema) -> Iterator[pa.Table]:
    """Rows of Arrow IPC files each sorted by credit code, in credit-code order (stable, part
    order between equal codes), a batch of each file at a time, as `schema` (values)."""
    batches = [_batches(reader) for reader in readers]
    if "credit_code" not in schema.names:
        for batch_iterator in batches:
            for batch in batch_iterator:
                yield pa.Table.from_batches([batch]).cast(schema)
        return
    firsts = {i: r.get_batch(0) for i, r in enumerate(readers) if r.num_record_batches}
    if not firsts:
        return
    for first in firsts.values():
        if first.schema.names != schema.names:
            raise ValueError(f"a part's columns {first.schema.names} are not {schema.names}")
    # The text of a column is made once, by the take that puts the rows in order: a column
    # that is a dictionary in every part (an IPC file has one per column) is held as indices
    # into the values of all the parts' dictionaries. A column that some part holds as plain
    # values, or whose values could fail to cast (the cast then sees only the rows'), is held
    # as values.
    values: dict[int, pa.Array] = {}
    starts: dict[int, dict[int, int]] = {}
    for column, field in enumerate(schema):
        dictionaries = {i: first.column(column) for i, first in firsts.items()}
        if all(_casts_safely(d.type, field.type) for d in dictionaries.values()):
            values[column], starts[column] = _joined(dictionaries, field.type)
    # Every part's codes ranked among the codes of all parts: each batch's order is then a
    # matter of integers.
    code = schema.names.index("credit_code")
    code_ranks, code_starts = _ranked_codes({i: first.column(code) for i, first in firsts.items()})
    held: list[list[np.ndarray | pa.Array]] = [[] for _ in readers]
    held_ranks = [np.array([], dtype=np.int64) for _ in readers]
    done = [False] * len(readers)
    while True:
        for i, batch_iterator in enumerate(batches):
            if not len(held_ranks[i]) and not done[i]:
                batch = next(batch_iterator, None)
                if batch is None:
                    done[i] = True
                    continue
                held[i] = [
                    _indices(batch.column(c), starts[c][i])
                    if c in values
                    else batch.column(c).cast(field.type)  # small: one batch
                    for c, field in enumerate(schema)
                ]
                held_ranks[i] = code_ranks[_indices(batch.column(code), code_starts[i])]
        live = [i for i in range(len(readers)) if len(held_ranks[i])]
        if not live:
            return
        # Safe to emit: every held row up to the smallest last rank of a part still reading.
        open_parts = [held_ranks[i][-1] for i in live if not done[i]]
        bound = min(open_parts) if open_parts else None
        cuts = {}
        for i in live:
            these = held_ranks[i]
            cuts[i] = len(these) if bound is None else int(np.searchsorted(these, bound, "right"))
        order = np.argsort(np.concatenate([held_ranks[i][: cuts[i]] for i in live]), kind="stable")
        columns = []
        for column, field in enumerate(schema):
            pieces = [held[i][column][: cuts[i]] for i in live]
            if column in values:
                taken = values[column].take(np.concatenate(pieces)[order])
                columns.append(taken if taken.type == field.type else taken.cast(field.type))
            else:
                columns.append(pa.concat_arrays(pieces).take(order))
        for i in live:
            held[i] = [these[cuts[i] :] for these in held[i]]
            held_ranks[i] = held_ranks[i][cuts[i] :]
        if len(order):
            yield pa.Table.from_arrays(columns, schema=schema)


def _ranked_codes(codes: Mapping[int, pa.DictionaryArray]) -> tuple[np.ndarray, dict[int, int]]:
    """The rank, as text, of each code of the parts' dictionaries one after another as _joined
    lays them out, the null after each part's codes (its missing code) after them all; and
    where each part's codes start."""
    every, starts = _joined(codes, pa.large_string())
    ranks = _code_ranks(every)
    ranks[[starts[i] + len(c.dictionary) for i, c in codes.items()]] = ranks[-1]
    return ranks, starts


def _casts_safely(dictionary: pa.DataType, kind: pa.DataType) -> bool:
    """Whether the values of a dictionary column cast to `kind` without fail, all of them."""
    if not pa.types.is_dictionary(dictionary):
        return False
    values = dictionary.value_type
    text = (pa.string(), pa.large_string())
    return values == kind or pa.types.is_null(values) or (values in text and kind in text)


def _joined(
    dictionaries: Mapping[int, pa.DictionaryArray], kind: pa.DataType
) -> tuple[pa.Array, dict[int, int]]:
    """The values of the parts' dictionaries one after another as `kind` (text with 64-bit
    offsets past 2 GiB), each followed by a null (the value of its missing index, the index
    after the dictionary), and where each part's values start: a part's index plus its start
    is an index into them all."""
    if sum(d.dictionary.nbytes for d in dictionaries.values()) >= 2**31:
        kind = _large(kind)
    pieces, starts, start = [], {}, 0
    for part, dictionary in dictionaries.items():
        pieces += [dictionary.dictionary.cast(kind), pa.nulls(1, kind)]
        starts[part] = start
        start += len(dictionary.dictionary) + 1
    return pa.concat_arrays(pieces), starts
