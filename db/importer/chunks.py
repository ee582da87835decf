"""Validate a file of any size in bounded memory: read in chunks, partition by order, check.

Pass 1 streams the sheet (reader.SheetStream) and spills every row, as text with its sheet row
number, into one of N partitions chosen by a hash of its order key (channel, platform order id),
so each order is whole in one partition and its lines keep their file order. N is the estimated
line count over ``chunk_lines`` (setting ``import_chunk_lines``); N = 1 keeps the rows in memory,
otherwise the partitions are Arrow IPC files in a temporary directory the caller owns.

Pass 2 sums the share-rule statistics of the order-level money columns over the partitions (the
rule is decided for the whole file). Pass 3 checks partition by partition into one report, adds
up the store-day totals (checked at the end) and spills the typed lines for the loader, with the
stores and products of the file (the last line of each wins, as in a one-chunk import).

Memory: about one partition's rows at a time, plus per-file state bounded by the file's
store-days, stores and products (and the report, which keeps every problem for the CSV list).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from db.importer import layout, validate
from db.importer.reader import CsvRestartError, ReadLimits, SheetStream, open_sheet
from db.importer.report import ValidationReport

log = logging.getLogger(__name__)

ROW = "__row__"
STORE_COLUMNS = ["store_key", "store_name", "city", "franchise_type", "sheet_row"]
PRODUCT_COLUMNS = ["sku_key", "barcode", "product_code", "product_name", "category_l1", "category_l3", "sheet_row"]
# rows per partition above the chunk size the hash may put there by chance (1.25: ~6 σ at 100k)
HEADROOM = 1.25

Tick = Callable[[str, int, int], None]


class Partitions:
    """N partitions of Arrow tables: in memory when N = 1, else one IPC stream file each."""

    def __init__(self, count: int, workdir: Path | None, name: str) -> None:
        self.count = count
        self.workdir = Path(workdir) if workdir is not None else None
        self.name = name
        self._memory: list[list[pa.Table]] = [[] for _ in range(count)] if self._in_memory else []
        self._writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
        self._sinks: dict[int, pa.OSFile] = {}

    @property
    def _in_memory(self) -> bool:
        return self.count == 1 or self.workdir is None

    def _path(self, k: int) -> Path:
        return self.workdir / f"{self.name}-{k:04d}.arrow"

    def add(self, k: int, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self._in_memory:
            self._memory[k].append(table)
            return
        writer = self._writers.get(k)
        if writer is None:
            self._sinks[k] = sink = pa.OSFile(str(self._path(k)), "wb")
            writer = self._writers[k] = pa.ipc.new_stream(sink, table.schema)
        writer.write_table(table)

    def close(self) -> None:
        for k, writer in self._writers.items():
            writer.close()
            self._sinks[k].close()
        self._writers, self._sinks = {}, {}

    def read(self, k: int, columns: list[str] | None = None) -> pa.Table | None:
        """Partition k (only ``columns`` and the row numbers when given)."""
        if self._in_memory:
            tables = self._memory[k]
            table = pa.concat_tables(tables) if tables else None
        else:
            path = self._path(k)
            if not path.exists():
                return None
            with pa.OSFile(str(path), "rb") as source:
                table = pa.ipc.open_stream(source).read_all()
        if table is not None and columns is not None:
            table = table.select([*columns, ROW])
        return table

    def release(self, k: int) -> None:
        """Forget partition k (its rows were handed on)."""
        if self._in_memory:
            self._memory[k] = []
        else:
            self._path(k).unlink(missing_ok=True)

    def reset(self) -> None:
        self.close()
        if self._in_memory:
            self._memory = [[] for _ in range(self.count)]
        else:
            for k in range(self.count):
                self._path(k).unlink(missing_ok=True)


@dataclass
class Checked:
    """A file read and validated: the report, and when it passed, its typed lines by partition
    (``lines()``) with the file's stores and products for the loader."""

    report: ValidationReport
    headers: list[str] = field(default_factory=list)
    lines_total: int = 0
    partitions: int = 0
    typed: Partitions | None = None
    stores: pd.DataFrame | None = None
    products: pd.DataFrame | None = None

    def lines(self) -> Iterator[pd.DataFrame]:
        """The typed lines partition by partition (each read once, then released)."""
        if self.typed is None:
            return
        for k in range(self.typed.count):
            table = self.typed.read(k)
            self.typed.release(k)
            if table is not None:
                yield _typed_frame(table)


def partition_count(estimated_lines: int, chunk_lines: int) -> int:
    if estimated_lines <= chunk_lines:
        return 1
    return max(1, math.ceil(estimated_lines * HEADROOM / chunk_lines))


def check(
    path: Path,
    limits: ReadLimits,
    chunk_lines: int,
    workdir: Path,
    *,
    overrides: dict[str, str] | None = None,
    keep_lines: bool = True,
    tick: Tick | None = None,
) -> Checked:
    """Read and validate ``path``; raises ImportRejectedError when it cannot be read at all.
    ``keep_lines``: spill the typed lines for the loader (an import) or not (a preview)."""
    tick = tick or (lambda *_args: None)
    with open_sheet(path, limits, chunk_lines) as stream:
        report, mapping = validate.check_headers(path.name, stream.headers, overrides)
        checked = Checked(report, list(stream.headers))
        if not report.ok:  # nothing but the header is checked; the report still counts the rows
            report.rows = checked.lines_total = _count_rows(stream, tick)
            return checked
        count = partition_count(stream.estimated_lines, chunk_lines)
        raw = Partitions(count, workdir, "raw")
        try:
            checked.lines_total = report.rows = _spill(stream, raw, validate.key_columns(mapping), tick)
        finally:
            raw.close()
    checked.partitions = count
    if checked.lines_total == 0:
        report.add(1, "(全部)", "", "文件没有数据行")
        raw.reset()
        return checked
    total = checked.lines_total
    headers = checked.headers

    stats: dict = {}
    if validate.shareable(mapping):  # only the key and money columns are read back
        wanted = [mapping.columns[n] for n in [*validate.ORDER_KEY, *validate.shareable(mapping)]]
        positions = sorted({headers.index(h) for h in wanted})
        for k in range(count):
            table = raw.read(k, [f"c{i}" for i in positions])
            if table is not None:
                frame, rows = _raw_frame(table, [headers[i] for i in positions])
                stats = layout.merge_share_stats(stats, validate.share_stats(frame, rows, mapping, stripped=True))
                del table, frame
    per_line = validate.decide_share_rules(mapping, report, stats)

    typed = Partitions(count, workdir, "lines") if keep_lines else None
    days = validate.DayTotals()
    stores: list[pd.DataFrame] = []
    products: list[pd.DataFrame] = []
    done = 0
    tick("校验", 0, total)
    try:
        for k in range(count):
            table = raw.read(k)
            raw.release(k)
            if table is None:
                continue
            frame, rows = _raw_frame(table, headers)
            del table
            lines = validate.check_partition(frame, rows, mapping, per_line, report, days, stripped=True)
            del frame
            done += len(lines)
            if report.ok and typed is not None:
                stores = [_last_of(stores, lines, STORE_COLUMNS, "store_key")]
                products = [_last_of(products, lines, PRODUCT_COLUMNS, "sku_key")]
                typed.add(k, pa.Table.from_pandas(lines, preserve_index=False))
            del lines
            tick("校验", done, total)
    finally:
        if typed is not None:
            typed.close()
    validate.finish(report, mapping, days)
    if report.ok and typed is not None:
        checked.typed = typed
        checked.stores = stores[0].sort_values("sheet_row", kind="stable")
        checked.products = products[0].sort_values("sheet_row", kind="stable")
    return checked


def _count_rows(stream: SheetStream, tick: Tick) -> int:
    lines = 0
    try:
        for chunk in stream:
            lines += len(chunk)
            tick("读取", lines, 0)
    except CsvRestartError:
        stream.use_arrow = False
        return _count_rows(stream, tick)
    return lines


def _spill(stream: SheetStream, raw: Partitions, keys: list[str], tick: Tick) -> int:
    """Pass 1: every non-empty row into the partition of its order; the number of rows."""
    positions = [stream.headers.index(k) for k in keys]
    names = [f"c{i}" for i in range(len(stream.headers))] + [ROW]
    lines = 0
    try:
        for chunk in stream:
            table = pa.table([*chunk.columns, pa.array(chunk.rows, pa.int64())], names=names)
            if raw.count == 1:
                raw.add(0, table)
            else:
                part = _partition_of(chunk, positions, raw.count)
                order = np.argsort(part, kind="stable")
                bounds = np.searchsorted(part[order], np.arange(raw.count + 1))
                table = table.take(pa.array(order))
                for k in range(raw.count):
                    if bounds[k + 1] > bounds[k]:
                        raw.add(k, table.slice(bounds[k], bounds[k + 1] - bounds[k]))
            lines += len(chunk)
            tick("读取", lines, 0)
    except CsvRestartError:  # a ragged row after the first chunks: again with pandas' parser
        log.info("%s: ragged rows, reading again with the pandas parser", stream.path.name)
        raw.reset()
        stream.use_arrow = False
        return _spill(stream, raw, keys, tick)
    return lines


def _partition_of(chunk, positions: list[int], count: int) -> np.ndarray:
    """Partition of each row: a hash of the stripped order key (what validation groups by)."""
    columns = [chunk.columns[p].to_numpy(zero_copy_only=False) for p in positions]
    key = pd.DataFrame({i: pd.Series(c, dtype=object).str.strip() for i, c in enumerate(columns)})
    hashed = pd.util.hash_pandas_object(key, index=False).to_numpy()
    return (hashed % np.uint64(count)).astype(np.int64)


# Every character str.strip() removes (str.isspace; a test checks the set against Python's)
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
_EDGE_SPACE = f"^[{WHITESPACE}]|[{WHITESPACE}]$"


def _raw_frame(table: pa.Table, headers: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """The partition's text with every cell stripped as ``str.strip`` does: only the columns
    with a cell starting or ending in whitespace (found by Arrow) are stripped in Python."""
    rows = table.column(ROW).to_numpy()
    table = table.drop_columns([ROW])
    padded = [i for i, column in enumerate(table.columns)
              if pc.any(pc.match_substring_regex(column, _EDGE_SPACE)).as_py()]  # fmt: skip
    frame = table.to_pandas()
    frame.columns = range(len(headers))
    for i in padded:
        frame[i] = frame[i].str.strip()
    frame.columns = headers
    return frame, rows


def _typed_frame(table: pa.Table) -> pd.DataFrame:
    frame = table.to_pandas()
    for name in ("store_key", "sku_key"):
        frame[name] = frame[name].astype(object)
    return frame


def _last_of(kept: list[pd.DataFrame], lines: pd.DataFrame, columns: list[str], key: str) -> pd.DataFrame:
    """The last line (by sheet row) of each key over the partitions so far."""
    here = lines[columns].drop_duplicates(key, keep="last")
    both = pd.concat([*kept, here]) if kept else here
    return both.sort_values("sheet_row", kind="stable").drop_duplicates(key, keep="last")
