"""File writers of the demo exports: one CSV (UTF-8 with BOM or GB18030) or XLSX file from a frame
whose columns are the Chinese headers of :mod:`db.export_format`. Used only by :mod:`db.demo_data`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from db import export_format as ef

SHEET_NAME = "订单明细"


def output_dir(out_dir: Path, fmt: str, formats: tuple[str, ...]) -> Path:
    """Check ``fmt`` and create ``out_dir``."""
    if fmt not in formats:
        raise ValueError(f"fmt must be one of {formats}, got {fmt!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def write_month(part: pd.DataFrame, name: str, out_dir: Path, fmt: str, max_rows: int,
                progress: Callable[[Path], None] | None) -> list[Path]:
    """Write one month's lines as ``name``.csv / .xlsx, or ``name``_1, _2, … when over ``max_rows``."""
    paths: list[Path] = []
    chunks = _split_at_orders(part, max_rows)
    for i, chunk in enumerate(chunks, start=1):
        stem = name + (f"_{i}" if len(chunks) > 1 else "")
        if fmt in ("csv", "csv-gbk", "both"):
            paths.append(write_csv(chunk, out_dir / f"{stem}.csv", gbk=fmt == "csv-gbk"))
        if fmt in ("xlsx", "both"):
            paths.append(write_xlsx(chunk, out_dir / f"{stem}.xlsx"))
        if progress:
            for path in paths[-(2 if fmt == "both" else 1):]:
                progress(path)
    return paths


def _split_at_orders(part: pd.DataFrame, max_rows: int) -> list[pd.DataFrame]:
    if len(part) <= max_rows:
        return [part]
    key = (part["渠道"].astype(str) + "|" + part["订单ID"].astype(str)).to_numpy()
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    cuts, last = [0], 0
    for start in starts:
        if start - last > max_rows - 10:
            cuts.append(int(start))
            last = int(start)
    cuts.append(len(part))
    return [part.iloc[a:b] for a, b in itertools.pairwise(cuts) if b > a]


def write_csv(part: pd.DataFrame, path: Path, gbk: bool) -> Path:
    """Write ``part`` as CSV, unquoted: UTF-8 with BOM, or GB18030 when ``gbk``."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    arrays = []
    for column in ef.COLUMNS:
        values = part[column.header]
        if column.kind == "money":
            arrays.append(pc.cast(pa.array(values.to_numpy(dtype=float)), pa.decimal128(14, 2)))
        elif column.kind == "datetime":
            arrays.append(pa.array(values.astype(str).to_numpy(dtype=object), type=pa.string()))
        else:
            arrays.append(pa.array(values, from_pandas=True))
    table = pa.Table.from_arrays(arrays, names=list(ef.HEADERS))
    options = pcsv.WriteOptions(include_header=False, quoting_style="none")
    header = ",".join(ef.HEADERS) + "\n"
    with path.open("wb") as fh:
        fh.write(header.encode("gb18030") if gbk else b"\xef\xbb\xbf" + header.encode("utf-8"))
        for offset in range(0, table.num_rows, 200_000):
            sink = pa.BufferOutputStream()
            pcsv.write_csv(table.slice(offset, 200_000), sink, options)
            data = sink.getvalue().to_pybytes()  # pyarrow writes UTF-8
            fh.write(data.decode("utf-8").encode("gb18030") if gbk else data)
    return path


def write_xlsx(part: pd.DataFrame, path: Path) -> Path:
    """Write ``part`` as one sheet named SHEET_NAME (openpyxl write_only, 订单时间 as datetimes)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_NAME)
    sheet.append(list(ef.HEADERS))
    for offset in range(0, len(part), 50_000):  # bounded memory: Python objects per chunk only
        chunk = part.iloc[offset:offset + 50_000]
        cells = []
        for column in ef.COLUMNS:
            values = chunk[column.header]
            if column.kind == "datetime":  # a real Excel datetime, not text
                values = pd.to_datetime(values, format="%Y-%m-%d %H:%M:%S").dt.to_pydatetime()
                cells.append(list(values))
            else:
                cells.append([None if v is None or v != v else v for v in values.astype(object).tolist()])
        for row in zip(*cells, strict=True):
            sheet.append(row)
    workbook.save(path)
    return path
