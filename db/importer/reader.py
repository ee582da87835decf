"""Read an export file (.csv in UTF-8 / UTF-8-BOM / GB18030, or .xlsx) as text.

Every cell stays text here; parsing and validation happen in ``validate`` so that an error can
quote the value exactly as the file had it. Size limits are checked before anything is parsed.

``open_sheet`` streams a file as chunks of at most ``chunk_lines`` rows (Arrow's streaming CSV
reader, or pandas' chunked parser for files with blank lines or ragged rows; calamine's row
iterator for XLSX), each with the sheet row numbers of its rows, so the importer's memory does not
grow with the file.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import itertools
import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from db.errors import ImportRejectedError

CSV_ENCODINGS = ("utf-8-sig", "gb18030")
XLSX_SIGNATURE = b"PK\x03\x04"
MAX_ZIP_MEMBERS = 10_000
BOMB_MIN_BYTES = 64 * 1024 * 1024  # members this large must not compress better than BOMB_RATIO
BOMB_RATIO = 200
EXACT_INTEGER_LIMIT = 2**53
XLSX_BATCH_ROWS = 10_000


@dataclass(frozen=True)
class ReadLimits:
    max_bytes: int
    max_xlsx_uncompressed_bytes: int
    max_xlsx_rows: int
    max_xlsx_columns: int
    max_xlsx_cells: int


class CsvRestartError(Exception):
    """Arrow's streaming reader met a row it cannot take after chunks were handed out: the caller
    drops what it kept and iterates the sheet again (pandas' parser from then on)."""


@dataclass
class Chunk:
    """Rows of a sheet as text: ``columns[i]`` holds the cells of header i (a pyarrow string
    array), ``rows`` the sheet row numbers; empty rows are already dropped."""

    columns: list[pa.Array]
    rows: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


class SheetStream:
    """A sheet read chunk by chunk. ``headers`` are known (stripped) when it opens;
    ``estimated_lines`` guides how the importer partitions the file."""

    def __init__(self, path: Path, limits: ReadLimits, chunk_lines: int) -> None:
        self.path = Path(path)
        self.chunk_lines = max(1, int(chunk_lines))
        _check_size(self.path, limits)
        suffix = self.path.suffix.lower()
        self.kind = "csv" if suffix == ".csv" else "xlsx"
        self.headers: list[str] = []
        self.estimated_lines = 0
        if suffix == ".csv":
            self._open_csv()
        elif suffix in (".xlsx", ".xlsm"):
            self._open_xlsx(limits)
        else:
            raise ImportRejectedError(
                f"{self.path.name}: 不支持的文件类型 {suffix or '(无扩展名)'}，仅支持 .xlsx 和 .csv"
            )

    # -- CSV ---------------------------------------------------------------------------------
    def _open_csv(self) -> None:
        self.encoding, blank_lines = _csv_encoding(self.path)
        with self.path.open(encoding=self.encoding, newline="") as fh:
            header = next(csv.reader(fh), None) or []
            sample = fh.read(1 << 20)
        self.use_arrow = bool(header) and len(set(header)) == len(header) and not blank_lines
        self.headers = [str(h).strip() for h in header]
        size = self.path.stat().st_size
        newlines = sample.count("\n")
        sampled = len(sample.encode(self.encoding, errors="replace")) or 1
        self.estimated_lines = int(size * newlines / sampled) + 1 if newlines else 1

    def _csv_chunks(self) -> Iterator[Chunk]:
        if self.use_arrow:
            yielded = False
            try:
                for chunk in self._arrow_chunks():
                    yielded = True
                    yield chunk
                return
            except pa.ArrowInvalid:
                self.use_arrow = False  # ragged rows: pandas' parser keeps them
                if yielded:
                    raise CsvRestartError from None
        yield from self._pandas_chunks()

    def _arrow_chunks(self) -> Iterator[Chunk]:
        """Arrow's parser on blocks of the file cut at record ends, one block at a time (its
        streaming reader reads ~150 MB ahead of the consumer whatever the block size)."""
        with self.path.open(encoding=self.encoding, newline="") as fh:
            names = next(csv.reader(fh), None)
        parse = pacsv.ParseOptions(newlines_in_values=True)
        convert = pacsv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        start = 2
        for n, block in enumerate(_record_blocks(self.path, _block_size(self.chunk_lines))):
            if self.encoding != "utf-8-sig":
                block = block.decode(self.encoding).encode("utf-8")
            elif n == 0 and block.startswith(codecs.BOM_UTF8):
                block = block[len(codecs.BOM_UTF8) :]
            table = pacsv.read_csv(
                pa.py_buffer(block),
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=1 if n == 0 else 0),
                parse_options=parse,
                convert_options=convert,
            )
            del block
            for offset in range(0, table.num_rows, self.chunk_lines):
                part = table.slice(offset, self.chunk_lines)
                rows = np.arange(start, start + part.num_rows)
                start += part.num_rows
                chunk = _keep_filled([c.combine_chunks() for c in part.columns], rows)
                if len(chunk):
                    yield chunk

    def _pandas_chunks(self) -> Iterator[Chunk]:
        width = len(self.headers)
        start = 2
        with self.path.open(encoding=self.encoding, newline="") as fh:
            try:
                reader = pd.read_csv(
                    fh, header=None, dtype=str, keep_default_na=False, skip_blank_lines=False,
                    chunksize=self.chunk_lines,
                )  # fmt: skip
                first = True
                for frame in reader:
                    if first:  # the header row
                        frame = frame.iloc[1:]
                        first = False
                    if frame.shape[1] < width:  # a chunk of short rows only
                        for extra in range(frame.shape[1], width):
                            frame[extra] = ""
                    rows = np.arange(start, start + len(frame))
                    start += len(frame)
                    keep = (frame != "").any(axis=1).to_numpy()
                    if keep.any():
                        kept = frame[keep]
                        columns = [pa.array(kept.iloc[:, i].to_numpy(dtype=object), pa.string())
                                   for i in range(width)]  # fmt: skip
                        yield Chunk(columns, rows[keep])
            except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
                raise ImportRejectedError(f"{self.path.name}: CSV 格式错误: {exc}") from None

    # -- XLSX --------------------------------------------------------------------------------
    def _open_xlsx(self, limits: ReadLimits) -> None:
        member, title = _check_zip(self.path, limits)
        _scan_sheet(self.path, member, title, limits)
        self.encoding = "xlsx"
        from python_calamine import CalamineError, CalamineWorkbook

        self._calamine_error = CalamineError
        try:
            self._workbook = CalamineWorkbook.from_path(str(self.path))
            self._sheet = self._workbook.get_sheet_by_index(0)
            _check_shape(self.path, self._sheet.name, self._sheet.total_height, self._sheet.total_width, limits)
            rows = self._sheet.iter_rows()
            first = next(rows, None)
        except (CalamineError, ValueError, OSError) as exc:
            self.close()
            raise ImportRejectedError(f"{self.path.name}: 不是有效的 .xlsx 文件 ({exc})") from None
        if first is None:
            self.close()
            raise ImportRejectedError(f"{self.path.name}: 工作表 {self._sheet.name} 为空")
        self.headers = [_cell_text(h) for h in first]
        self.estimated_lines = max(1, self._sheet.total_height - 1)

    def _xlsx_chunks(self) -> Iterator[Chunk]:
        width = len(self.headers)
        text, plain = _cell_text, str
        rows = self._sheet.iter_rows()
        next(rows, None)  # headers
        batch = min(self.chunk_lines, XLSX_BATCH_ROWS)  # rows as Python lists: ~5 KB each
        start = 2
        while True:
            records = [[v.strip() if type(v) is plain else text(v) for v in row[:width]]
                       for row in itertools.islice(rows, batch)]  # fmt: skip
            if not records:
                break
            numbers = np.arange(start, start + len(records))
            start += len(records)
            keep = np.fromiter((any(record) for record in records), dtype=bool, count=len(records))
            if not keep.all():
                records = [record for record, kept in zip(records, keep, strict=True) if kept]
            if records:
                columns = [pa.array([r[i] if i < len(r) else "" for r in records], pa.string())
                           for i in range(width)]  # fmt: skip
                yield Chunk(columns, numbers[keep])

    def __iter__(self) -> Iterator[Chunk]:
        try:
            if self.kind == "csv":
                yield from self._csv_chunks()
            else:
                yield from self._xlsx_chunks()
        except UnicodeDecodeError as exc:  # pragma: no cover - gb18030 decodes nearly any byte string
            raise ImportRejectedError(f"{self.path.name}: 无法识别文件编码 ({exc.reason})") from None

    def close(self) -> None:
        workbook = getattr(self, "_workbook", None)
        if workbook is not None:
            workbook.close()
            self._workbook = None

    def __enter__(self) -> SheetStream:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def open_sheet(path: Path, limits: ReadLimits, chunk_lines: int) -> SheetStream:
    """Open ``path`` for chunked reading or raise ImportRejectedError naming the file."""
    return SheetStream(path, limits, chunk_lines)


def _block_size(chunk_lines: int) -> int:
    """Arrow's block: ~chunk_lines rows of a typical export (~300 bytes a row), 64 KB–16 MB (a
    block must hold the longest row)."""
    return int(min(16 << 20, max(64 << 10, chunk_lines * 300)))


def _record_blocks(path: Path, size: int) -> Iterator[bytes]:
    """The file in blocks of about ``size`` bytes, each ending at the end of a record: after a
    line break outside quotes (an even number of '"' before it; in UTF-8 and GB18030 neither
    byte occurs inside a multi-byte character). A record longer than 8 blocks (a stray quote
    mark) raises ArrowInvalid: the pandas parser then reads the file."""
    carry = b""
    with path.open("rb") as fh:
        while True:
            data = fh.read(size)
            buffer = carry + data if carry else data
            if not data:
                if buffer:
                    yield buffer
                return
            cut = buffer.rfind(b"\n")
            while cut >= 0 and buffer.count(b'"', 0, cut) % 2:
                cut = buffer.rfind(b"\n", 0, cut)
            if cut < 0:
                if len(buffer) > 8 * size:
                    raise pa.ArrowInvalid("a record longer than the read block")
                carry = buffer
                continue
            carry = buffer[cut + 1 :]
            yield buffer[: cut + 1]


def _keep_filled(columns: list[pa.Array], rows: np.ndarray) -> Chunk:
    """Drop the rows whose every cell is empty (their numbers are kept by the others)."""
    if not columns or not len(rows):
        return Chunk(columns, rows)
    filled = None
    for column in columns:
        here = pc.greater(pc.utf8_length(column), 0)
        filled = here if filled is None else pc.or_(filled, here)
    mask = filled.to_numpy(zero_copy_only=False)
    if mask.all():
        return Chunk(columns, rows)
    return Chunk([c.filter(filled) for c in columns], rows[mask])


def _csv_encoding(path: Path) -> tuple[str, bool]:
    """("utf-8-sig" or "gb18030", whether the file has blank lines), in one streaming pass."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, blank, tail = True, False, b""
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(4 << 20), b""):
            if utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    utf8 = False
            window = tail + block
            blank = blank or b"\n\n" in window or b"\n\r\n" in window
            tail = block[-2:]
            if blank and not utf8:
                break
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return ("utf-8-sig" if utf8 else "gb18030"), blank


def _check_size(path: Path, limits: ReadLimits) -> None:
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


def _check_shape(path: Path, title: str, rows: int, columns: int, limits: ReadLimits) -> None:
    if rows > limits.max_xlsx_rows:
        raise ImportRejectedError(
            f"{path.name}: 工作表 {title} 有 {rows:,} 行，超出上限 {limits.max_xlsx_rows:,} 行 (O2O_MAX_XLSX_ROWS)"
        )
    if columns > limits.max_xlsx_columns:
        raise ImportRejectedError(
            f"{path.name}: 工作表 {title} 有 {columns:,} 列，超出上限 {limits.max_xlsx_columns:,} 列 "
            f"(O2O_MAX_XLSX_COLUMNS)"
        )
    if rows * columns > limits.max_xlsx_cells:
        raise ImportRejectedError(
            f"{path.name}: 工作表 {title} 有 {rows:,} 行 × {columns:,} 列 = {rows * columns:,} 个单元格，"
            f"超出上限 {limits.max_xlsx_cells:,} 个 (O2O_MAX_XLSX_CELLS)"
        )


def _check_zip(path: Path, limits: ReadLimits) -> tuple[str, str]:
    """Refuse a non-zip or a zip bomb from the central directory alone; return the first sheet's
    zip member and name."""
    with path.open("rb") as fh:
        if fh.read(4) != XLSX_SIGNATURE:
            raise ImportRejectedError(f"{path.name}: 不是有效的 .xlsx 文件 (不是 zip 格式)")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            declared = sum(info.file_size for info in infos)
            if len(infos) > MAX_ZIP_MEMBERS:
                raise ImportRejectedError(
                    f"{path.name}: 压缩包内有 {len(infos):,} 个文件，超过上限 {MAX_ZIP_MEMBERS:,}，已拒绝"
                )
            if declared > limits.max_xlsx_uncompressed_bytes:
                raise ImportRejectedError(
                    f"{path.name}: 解压后大小 {declared / 1048576:.0f} MB 超过上限 "
                    f"{limits.max_xlsx_uncompressed_bytes / 1048576:.0f} MB，疑似压缩炸弹，已拒绝 "
                    f"(O2O_MAX_XLSX_UNCOMPRESSED_BYTES)"
                )
            for info in infos:
                if info.file_size > BOMB_MIN_BYTES and info.file_size > BOMB_RATIO * max(info.compress_size, 1):
                    raise ImportRejectedError(
                        f"{path.name}: {info.filename} 压缩比 {info.file_size / max(info.compress_size, 1):,.0f}:1 "
                        f"超过 {BOMB_RATIO}:1，疑似压缩炸弹，已拒绝"
                    )
            return _first_sheet(archive)
    except zipfile.BadZipFile as exc:
        raise ImportRejectedError(f"{path.name}: 不是有效的 .xlsx 文件 ({exc})") from None


def _first_sheet(archive: zipfile.ZipFile) -> tuple[str, str]:
    """The zip member and name of the workbook's first sheet (what get_sheet_by_index(0) reads)."""
    names = set(archive.namelist())
    try:
        book = ET.fromstring(_small_member(archive, "xl/workbook.xml"))
        rels = ET.fromstring(_small_member(archive, "xl/_rels/workbook.xml.rels"))
        first = next(el for el in book.iter() if el.tag.rsplit("}", 1)[-1] == "sheet")
        rel_id = next(v for k, v in first.attrib.items() if k.rsplit("}", 1)[-1] == "id")
        target = next(el.get("Target") for el in rels.iter() if el.get("Id") == rel_id)
    except (KeyError, StopIteration, ET.ParseError, ValueError):
        return "xl/worksheets/sheet1.xml", "sheet1"
    target = target.lstrip("/") if target.startswith("/") else posixpath.normpath("xl/" + target)
    return (target if target in names else "xl/worksheets/sheet1.xml"), first.get("name") or "sheet1"


def _small_member(archive: zipfile.ZipFile, name: str) -> bytes:
    if archive.getinfo(name).file_size > 16 * 1024 * 1024:
        raise ValueError(name)
    return archive.read(name)


_CELL_REF = re.compile(rb' r="([A-Z]{1,3})([0-9]{1,7})"')


def _column_number(letters: bytes) -> int:
    number = 0
    for char in letters:
        number = number * 26 + char - 64
    return number


def _scan_sheet(path: Path, member: str, title: str, limits: ReadLimits) -> None:
    """Stream the sheet XML and stop at the first cap: rows (row tags or the highest row
    reference), columns (the highest column reference) and cells (rows × columns, the grid calamine
    allocates). Cost: one zlib pass and a few byte searches per 1 MB chunk, no XML parsing."""
    try:
        archive = zipfile.ZipFile(path)
        stream = archive.open(member)
    except (KeyError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
        raise ImportRejectedError(f"{path.name}: 不是有效的 .xlsx 文件 ({exc})") from None
    row_tags = cell_tags = max_row = max_col = running = 0
    prefix: bytes | None = None
    tail = b""
    try:
        with archive, stream:
            while True:
                chunk = stream.read(1 << 20)
                if not chunk:
                    break
                data = tail + chunk
                cut = data.rfind(b"<")
                data, tail = (data[:cut], data[cut:]) if cut > 0 else (data, b"")
                if prefix is None:
                    found = re.search(rb"<(\w+:)?sheetData\b", data)
                    if found is None:
                        if len(tail) > 1 << 16:
                            tail = tail[-(1 << 16) :]
                        continue
                    prefix = found.group(1) or b""
                    data = data[found.start() :]
                # one pass per tag: inside sheetData only cells start "<c" and only rows "<row" (rich
                # text runs' "<color"/"<charset" count too, which errs on the side of refusing)
                row_open, cell_open = b"<" + prefix + b"row", b"<" + prefix + b"c"
                rows_here, cells_here = data.count(row_open), data.count(cell_open)
                row_tags, cell_tags = row_tags + rows_here, cell_tags + cells_here
                last = data.rfind(cell_open + b' r="')
                if last >= 0:  # cells come in sheet order: the last one has the highest row
                    ref = _CELL_REF.match(data, last + len(cell_open))
                    if ref is not None:
                        max_row = max(max_row, int(ref.group(2)))
                if _wider_than(max_col).search(data) is not None:
                    max_col = max(_column_number(m.group(1)) for m in _CELL_REF.finditer(data))
                # without references: a chunk's cells per row is a lower bound of its widest row,
                # and the cells after the chunk's last row tag continue in the next chunk
                start = data.rfind(row_open)
                running = running + cells_here if start < 0 else data.count(cell_open, start)
                columns = max(max_col, running, -(-cells_here // rows_here) if rows_here else 0)
                rows = max(row_tags, max_row)
                _check_shape(path, title, rows, columns, limits)
                if cell_tags > limits.max_xlsx_cells:
                    raise ImportRejectedError(
                        f"{path.name}: 工作表 {title} 的单元格超过 {limits.max_xlsx_cells:,} 个，"
                        f"超出上限 (O2O_MAX_XLSX_CELLS)"
                    )
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise ImportRejectedError(f"{path.name}: 不是有效的 .xlsx 文件 ({exc})") from None


@functools.lru_cache(maxsize=64)
def _wider_than(column: int) -> re.Pattern[bytes]:
    """A cell reference whose column is past ``column`` (1-based), as one regex search."""
    letters = ""
    n = column
    while n > 0:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    options = [f"[A-Z]{{{len(letters) + 1},3}}"] if len(letters) < 3 else []
    for i, char in enumerate(letters):
        if char < "Z":
            nxt = chr(ord(char) + 1)
            options.append(letters[:i] + f"[{nxt}-Z]" + "[A-Z]" * (len(letters) - i - 1))
    if not letters:
        options = ["[A-Z]{1,3}"]
    return re.compile(rb' r="(?:' + "|".join(options).encode() + rb")[0-9]")


def _cell_text(value: object) -> str:
    if type(value) is float:  # the commonest cell after text: tested first
        # calamine gives every number as a float; below 2**53 an integral one is exact, and
        # openpyxl read the same cell ("2026112712345678" in the XML) as that integer.
        # 1e308 stays "1e+308", not a 309-digit integer.
        if value.is_integer() and abs(value) < EXACT_INTEGER_LIMIT:
            return str(int(value))
        return str(value)
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):  # calamine gives a date for a whole-day value; openpyxl gave midnight
        return value.strftime("%Y-%m-%d 00:00:00")
    return str(value).strip()
