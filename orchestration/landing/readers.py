"""Turn one landing file into a DuckDB relation of text columns, or a precise error.

DuckDB does the reading (fast, streaming); Python only sniffs the header and, when DuckDB refuses a
file, re-reads it to say exactly which line and column broke, because DuckDB's own CSV messages
point at the wrong line often enough to mislead.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

SNIFF_BYTES = 64 * 1024
UTF8_BOM = b"\xef\xbb\xbf"

FORMATS_BY_SUFFIX = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


class FileLoadError(Exception):
    """A landing file that cannot be loaded at all; says which file, where and what."""

    def __init__(
        self, source_file: str, problem: str, line: int | None = None, column: int | None = None
    ) -> None:
        self.source_file = source_file
        self.problem = problem
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column}")
        location = f" ({', '.join(where)})" if where else ""
        return f"{self.source_file}{location}: {self.problem}"


@dataclass(frozen=True)
class SourceRelation:
    """A SQL `from` clause yielding `__row` (1-based) plus one text column per source column."""

    from_sql: str
    # (column as written in the file, its normalised name, SQL expression reading it as text)
    columns: tuple[tuple[str, str, str], ...]


def normalise_header(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.replace("\ufeff", "").strip().lower())


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def file_format(path: Path) -> str | None:
    return FORMATS_BY_SUFFIX.get(path.suffix.lower())


def source_relation(
    conn: duckdb.DuckDBPyConnection, path: Path, source_file: str
) -> SourceRelation:
    fmt = file_format(path)
    if fmt == "csv":
        return _csv_relation(path, source_file)
    if fmt == "parquet":
        return _described_relation(
            conn, f"read_parquet({sql_literal(str(path))})", source_file, "Parquet"
        )
    if fmt == "jsonl":
        return _jsonl_relation(conn, path, source_file)
    raise FileLoadError(source_file, f"unsupported file type '{path.suffix}'")


def diagnose(path: Path, source_file: str, error: Exception) -> FileLoadError:
    """Explain why DuckDB failed on a file, as precisely as the file allows."""
    fmt = file_format(path)
    if fmt == "csv":
        return diagnose_csv(path, source_file, error)
    if fmt == "jsonl":
        return diagnose_jsonl(path, source_file, error)
    return FileLoadError(source_file, _first_line(error))


def _csv_relation(path: Path, source_file: str) -> SourceRelation:
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head.strip():
        raise FileLoadError(source_file, "empty file: no header row", line=1)
    _reject_binary(head, source_file)
    head = head.removeprefix(UTF8_BOM)
    first_line = head.split(b"\n", 1)[0]
    try:
        header_text = first_line.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError as exc:
        raise _utf8_error(source_file, 1, first_line, exc) from None
    delimiter = ";" if header_text.count(";") > header_text.count(",") else ","
    header = next(csv.reader([header_text], delimiter=delimiter))
    positional = {f"c{i}": "VARCHAR" for i in range(len(header))}
    columns_sql = "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in positional) + "}"
    reader = (
        f"read_csv({sql_literal(str(path))}, delim={sql_literal(delimiter)}, quote='\"', "
        f"escape='\"', header=true, auto_detect=false, strict_mode=true, "
        f"columns={columns_sql})"
    )
    return SourceRelation(
        from_sql=f"(select row_number() over () as __row, * from {reader})",
        columns=tuple(
            (written, normalise_header(written), f"c{i}") for i, written in enumerate(header)
        ),
    )


def _jsonl_relation(
    conn: duckdb.DuckDBPyConnection, path: Path, source_file: str
) -> SourceRelation:
    # Objects are read whole and values extracted as text, so `7` stays "7" and a nested value
    # stays JSON, exactly as exported, instead of DuckDB's inferred types.
    reader = f"read_ndjson_objects({sql_literal(str(path))}, maximum_object_size=16777216)"
    try:
        keys = conn.sql(
            f"select distinct unnest(json_keys(json)) as key from {reader} "
            "where json_type(json) = 'OBJECT'"
        ).fetchall()
        non_objects = conn.execute(
            f"select count(*) from {reader} where json_type(json) <> 'OBJECT'"
        ).fetchall()[0][0]
    except duckdb.Error as exc:
        raise diagnose_jsonl(path, source_file, exc) from None
    if non_objects:
        raise diagnose_jsonl(path, source_file, None)
    columns = tuple(
        (
            key,
            normalise_header(key),
            "json_extract_string(json, " + sql_literal('$."' + key.replace('"', '\\"') + '"') + ")",
        )
        for (key,) in sorted(keys)
    )
    return SourceRelation(
        from_sql=f"(select row_number() over () as __row, json from {reader})", columns=columns
    )


def _described_relation(
    conn: duckdb.DuckDBPyConnection, reader: str, source_file: str, kind: str
) -> SourceRelation:
    try:
        described = conn.sql(f"describe select * from {reader}").fetchall()
    except duckdb.Error as exc:
        raise FileLoadError(
            source_file, f"not a readable {kind} file: {_first_line(exc)}"
        ) from None
    columns = tuple(
        (name, normalise_header(name), f"cast({quote_identifier(name)} as varchar)")
        for name, *_ in described
    )
    return SourceRelation(
        from_sql=f"(select row_number() over () as __row, * from {reader})", columns=columns
    )


def _reject_binary(head: bytes, source_file: str) -> None:
    nul = head.find(b"\x00")
    if nul < 0:
        return
    line = head.count(b"\n", 0, nul) + 1
    column = nul - (head.rfind(b"\n", 0, nul) + 1) + 1
    raise FileLoadError(
        source_file, "binary content (NUL byte): not a CSV text file", line=line, column=column
    )


def _utf8_error(
    source_file: str, line_number: int, raw_line: bytes, exc: UnicodeDecodeError
) -> FileLoadError:
    column = len(raw_line[: exc.start].decode("utf-8", errors="replace")) + 1
    bad = raw_line[exc.start : exc.start + 1].hex()
    return FileLoadError(
        source_file,
        f"undecodable bytes: 0x{bad} is not valid UTF-8",
        line=line_number,
        column=column,
    )


def _scan_utf8(path: Path, source_file: str) -> None:
    with path.open("rb") as handle:
        for line_number, raw_line in enumerate(handle, start=1):
            if line_number == 1:
                raw_line = raw_line.removeprefix(UTF8_BOM)
            try:
                raw_line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _utf8_error(source_file, line_number, raw_line, exc) from None


def diagnose_csv(path: Path, source_file: str, error: Exception | None) -> FileLoadError:
    line = 1
    try:
        _scan_utf8(path, source_file)
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header_line = handle.readline()
            delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
            width = len(next(csv.reader([header_line], delimiter=delimiter)))
            reader = csv.reader(handle, delimiter=delimiter, strict=True)
            for row in reader:
                line = reader.line_num + 1
                if len(row) != width and row:
                    # the reader's line_num counts from after the header line
                    column = min(len(row), width) + 1
                    return FileLoadError(
                        source_file,
                        f"expected {width} fields (as in the header), found {len(row)}",
                        line=line,
                        column=column,
                    )
    except FileLoadError as exc:
        return exc
    except csv.Error as exc:
        return FileLoadError(source_file, f"malformed CSV: {exc}", line=line)
    problem = _first_line(error) if error else "unreadable CSV"
    return FileLoadError(source_file, problem)


def diagnose_jsonl(path: Path, source_file: str, error: Exception | None) -> FileLoadError:
    try:
        _scan_utf8(path, source_file)
    except FileLoadError as exc:
        return exc
    with path.open(encoding="utf-8-sig") as handle:
        for line_number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                value = json.loads(text.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                return FileLoadError(
                    source_file, f"invalid JSON: {exc.msg}", line=line_number, column=exc.colno
                )
            if not isinstance(value, dict):
                return FileLoadError(
                    source_file, "each line must be one JSON object", line=line_number, column=1
                )
    problem = _first_line(error) if error else "unreadable JSON lines file"
    return FileLoadError(source_file, problem)


def _first_line(error: BaseException | None) -> str:
    text = str(error or "").strip()
    return text.splitlines()[0] if text else type(error).__name__
