"""Read an export file (.csv in UTF-8 / UTF-8-BOM / GB18030, or .xlsx) into a frame of text.

Every cell stays text here; parsing and validation happen in ``validate`` so that an error can
quote the value exactly as the file had it. Size limits are checked before anything is parsed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from db.errors import ImportRejectedError

CSV_ENCODINGS = ("utf-8-sig", "gb18030")
XLSX_SIGNATURE = b"PK\x03\x04"


@dataclass(frozen=True)
class ReadLimits:
    max_bytes: int
    max_xlsx_uncompressed_bytes: int
    max_xlsx_rows: int
    max_xlsx_columns: int


@dataclass
class RawSheet:
    """Cells as text with the original headers; ``row_numbers[i]`` is the sheet row of frame row i
    (the header is row 1; empty rows are dropped but keep the numbering of the rows after them)."""

    path: Path
    frame: pd.DataFrame
    encoding: str
    row_numbers: np.ndarray


def _drop_empty_rows(path: Path, frame: pd.DataFrame, encoding: str) -> RawSheet:
    numbers = np.arange(2, len(frame) + 2)
    if len(frame):
        keep = (frame != "").any(axis=1).to_numpy()
        frame, numbers = frame[keep].reset_index(drop=True), numbers[keep]
    return RawSheet(path=path, frame=frame, encoding=encoding, row_numbers=numbers)


def read_export(path: Path, limits: ReadLimits) -> RawSheet:
    """Read ``path`` or raise ImportRejectedError with a Chinese message naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ImportRejectedError(f"{path.name}: 文件不存在")
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ImportRejectedError(
            f"{path.name}: 文件大小 {size / 1048576:.1f} MB 超过上限 "
            f"{limits.max_bytes / 1048576:.0f} MB (O2O_MAX_IMPORT_BYTES)"
        )
    if size == 0:
        raise ImportRejectedError(f"{path.name}: 文件为空")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, limits)
    raise ImportRejectedError(f"{path.name}: 不支持的文件类型 {suffix or '(无扩展名)'}，仅支持 .xlsx 和 .csv")


def _read_csv(path: Path) -> RawSheet:
    data = path.read_bytes()
    for encoding in CSV_ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes nearly any byte string
        raise ImportRejectedError(f"{path.name}: 无法识别文件编码 (支持 UTF-8、UTF-8-BOM、GBK/GB18030)")
    frame = _read_csv_arrow(text) if "\n\n" not in text and "\n\r\n" not in text else None
    if frame is None:  # blank lines or ragged rows: the pandas parser keeps their row numbers
        try:
            frame = pd.read_csv(
                io.StringIO(text), header=None, dtype=str, keep_default_na=False, skip_blank_lines=False
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise ImportRejectedError(f"{path.name}: CSV 格式错误: {exc}") from None
        # header=None keeps duplicated headers as they are (pandas would rename them "X.1")
        headers = list(frame.iloc[0])
        frame = frame.iloc[1:].reset_index(drop=True)
        frame.columns = headers
    frame.columns = [str(c).strip() for c in frame.columns]
    return _drop_empty_rows(path, frame, encoding)


def _read_csv_arrow(text: str) -> pd.DataFrame | None:
    """Arrow's multi-threaded parser, every column as text; None when it cannot take the file."""
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), None)
    if not header or len(set(header)) != len(header):
        return None  # duplicate headers are reported by validation from the pandas frame
    try:
        table = pacsv.read_csv(
            pa.py_buffer(text.encode("utf-8")),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None
    return table.to_pandas()


def _read_xlsx(path: Path, limits: ReadLimits) -> RawSheet:
    _check_zip(path, limits)
    # Imported here: openpyxl is only needed for Excel files.
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ImportRejectedError(f"{path.name}: 不是有效的 .xlsx 文件 ({exc})") from None
    try:
        sheet = workbook.worksheets[0]
        declared_rows, declared_cols = sheet.max_row or 0, sheet.max_column or 0
        if declared_rows > limits.max_xlsx_rows or declared_cols > limits.max_xlsx_columns:
            raise ImportRejectedError(
                f"{path.name}: 工作表 {sheet.title} 声明的尺寸 {declared_rows} 行 × "
                f"{declared_cols} 列 超出上限 {limits.max_xlsx_rows} × {limits.max_xlsx_columns}"
            )
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise ImportRejectedError(f"{path.name}: 工作表 {sheet.title} 为空")
        headers = [("" if h is None else str(h).strip()) for h in header]
        width = len(headers)
        records = []
        for count, row in enumerate(rows, start=1):
            if count > limits.max_xlsx_rows:
                raise ImportRejectedError(f"{path.name}: 行数超过上限 {limits.max_xlsx_rows}")
            cells = [_cell_text(v) for v in row[:width]]
            if len(cells) < width:
                cells.extend([""] * (width - len(cells)))
            records.append(cells)
    finally:
        workbook.close()
    frame = pd.DataFrame(records, columns=headers, dtype=str)
    return _drop_empty_rows(path, frame, "xlsx")


def _check_zip(path: Path, limits: ReadLimits) -> None:
    with path.open("rb") as fh:
        if fh.read(4) != XLSX_SIGNATURE:
            raise ImportRejectedError(f"{path.name}: 不是有效的 .xlsx 文件 (不是 zip 格式)")
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise ImportRejectedError(f"{path.name}: 不是有效的 .xlsx 文件 ({exc})") from None
    if declared > limits.max_xlsx_uncompressed_bytes:
        raise ImportRejectedError(
            f"{path.name}: 解压后大小 {declared / 1048576:.0f} MB 超过上限 "
            f"{limits.max_xlsx_uncompressed_bytes / 1048576:.0f} MB，疑似压缩炸弹，已拒绝"
        )


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # 12.0 → "12"; 1e308 stays "1e+308", not a 309-digit integer
    return str(value).strip()
