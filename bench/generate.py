"""Benchmark landing data: a year of survey exports at 1M, 10M or 100M responses.

The 1M base is the demo generator itself (orchestration/demo_data.py: a nine-month Parquet
backfill, daily store and delivery CSV exports in three dialects, a weekly app JSON-lines feed,
~1% dirty rows of every quarantine reason, late rows, duplicates in the same and in later files,
unregistered branches and surveys). Bigger sizes are that year replicated `copies` times with
disjoint ids: copy k prefixes every non-blank `response_id` and `respondent_id` with `k<k>-`
(after any leading whitespace, so a padded id stays padded and blank ids stay blank), so each
copy keeps its own dirty rows and duplicates and every file keeps its format, dialect and
quirks; files get `copies` times longer, as a bigger company's exports would. `100m` writes
every file as Parquet (text columns, as exported), the backfill as one 75M-row file.

Layout of the output folder:

- `history/nps/...`  every file except the last day's daily CSV exports;
- `new_day/nps/...`  the last day's daily exports (one store and one delivery file): the
  "one new day of files" the runner adds on top of the history, or loads alone;
- `expected.json`    sizes and the outcome the contract implies for history + new day
  (accepted, duplicates, quarantined per reason), scaled from the demo generator's own count.

Usage: `python -m bench.generate --size 1m --out data/bench/1m` (reuses a complete folder).
Sizes other than the named ones: `--size 20k` (at least 1k responses, one copy).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import re
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.demo_data import CONTRACT_COLUMNS, write_demo_data

log = logging.getLogger(__name__)

BASE_RESPONSES = 1_000_000
# the whole benchmark year ends here, so every run of a size sees the same files
DEFAULT_END_DATE = date(2026, 10, 31)
DEFAULT_SEED = 20261031
ID_COLUMNS = ("response_id", "respondent_id")
PREFIXED_HEADERS = {"response_id", "respondent_id"}
_LEADING_SPACE = re.compile(r"^(\s*)(.*)$", re.S)


@dataclass(frozen=True)
class SizeSpec:
    name: str
    base: int  # responses of the demo year
    copies: int
    parquet_only: bool


@dataclass(frozen=True)
class BenchData:
    root: Path
    size: str
    responses: int
    files_history: int
    files_new_day: int
    new_day: str
    expected_accepted: int
    expected_duplicates: int
    expected_quarantined: dict[str, int]
    seconds: float

    @property
    def history(self) -> Path:
        return self.root / "history"

    @property
    def new_day_dir(self) -> Path:
        return self.root / "new_day"


def parse_size(text: str) -> SizeSpec:
    """`1m`, `10m`, `100m` (Parquet), or any `<n>k` / `<n>m` / `<n>` of at least 1k rows;
    `<base>x<copies>` and a `-parquet` suffix spell the replication out (small test sizes)."""
    match = re.fullmatch(r"(\d+)([km]?)(?:x(\d+))?(-parquet)?", text.strip().lower())
    if not match:
        raise ValueError(f"size {text!r}: use e.g. 1m, 10m, 100m, 20k, 20kx3-parquet")
    number = int(match.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2)]
    if match.group(3) or match.group(4):
        return SizeSpec(text, number, int(match.group(3) or 1), bool(match.group(4)))
    if number <= BASE_RESPONSES:
        return SizeSpec(text, number, 1, parquet_only=False)
    if number % BASE_RESPONSES:
        raise ValueError(f"size {text!r}: above 1m use whole millions")
    return SizeSpec(text, BASE_RESPONSES, number // BASE_RESPONSES, parquet_only=number >= 100e6)


def generate(
    size: str, out: Path, seed: int = DEFAULT_SEED, end_date: date = DEFAULT_END_DATE
) -> BenchData:
    """Write (or reuse, when complete) the benchmark landing folders of one size under `out`."""
    out = Path(out)
    marker = out / "expected.json"
    if marker.is_file():
        saved = json.loads(marker.read_text())
        if saved.get("seed") == seed and saved.get("end_date") == end_date.isoformat():
            saved.pop("seed"), saved.pop("end_date")
            return BenchData(**{**saved, "root": out})
    started = time.perf_counter()
    spec = parse_size(size)
    shutil.rmtree(out, ignore_errors=True)
    base_dir = out / ("history" if spec.copies == 1 and not spec.parquet_only else "base")
    summary = write_demo_data(base_dir, responses=spec.base, seed=seed, end_date=end_date)
    if base_dir.name == "base":
        for relative in summary.files:
            _replicate(base_dir / relative, out / "history" / relative, spec)
        shutil.rmtree(base_dir)
    last_day = end_date.isoformat()
    new_day_files = [f for f in summary.files if f.startswith("nps/daily/") and last_day in f]
    for relative in new_day_files:
        relative = _target_name(relative, spec)
        target = out / "new_day" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        (out / "history" / relative).rename(target)
    data = BenchData(
        root=out,
        size=size,
        responses=summary.rows * spec.copies,
        files_history=len(summary.files) - len(new_day_files),
        files_new_day=len(new_day_files),
        new_day=last_day,
        expected_accepted=summary.expected_accepted * spec.copies,
        expected_duplicates=summary.expected_duplicates * spec.copies,
        expected_quarantined={
            reason: rows * spec.copies for reason, rows in summary.expected_quarantined.items()
        },
        seconds=round(time.perf_counter() - started, 1),
    )
    saved = {k: v for k, v in asdict(data).items() if k != "root"}
    marker.write_text(
        json.dumps({**saved, "seed": seed, "end_date": end_date.isoformat()}, indent=2)
    )
    log.info("bench data %s: %d responses under %s", size, data.responses, out)
    return data


def prefixed(value: str | None, copy: int) -> str | None:
    """`value` as copy `copy` writes it: blank stays blank, leading whitespace stays leading."""
    if copy == 0 or value is None or not value.strip():
        return value
    space, rest = _LEADING_SPACE.match(value).groups()
    return f"{space}k{copy}-{rest}"


def _target_name(relative: str, spec: SizeSpec) -> str:
    if spec.parquet_only and not relative.endswith(".parquet"):
        return relative.rsplit(".", 1)[0] + ".parquet"
    return relative


def _replicate(source: Path, target: Path, spec: SizeSpec) -> None:
    target = target.with_name(_target_name(target.name, spec))
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = source.suffix
    if suffix == ".parquet":
        _replicate_parquet(source, target, spec.copies)
    elif suffix == ".jsonl":
        _replicate_jsonl(source, target, spec)
    else:
        _replicate_csv(source, target, spec)


def _replicate_parquet(source: Path, target: Path, copies: int) -> None:
    # one copy at a time, one row group each: memory stays at one copy of the file
    table = pq.read_table(source)
    with pq.ParquetWriter(target, table.schema, compression="zstd") as writer:
        for copy in range(copies):
            columns = {
                name: (
                    pa.array([prefixed(v, copy) for v in table[name].to_pylist()], pa.string())
                    if name in ID_COLUMNS and copy
                    else table[name]
                )
                for name in table.column_names
            }
            writer.write_table(pa.table(columns, schema=table.schema), row_group_size=1 << 20)


def _replicate_jsonl(source: Path, target: Path, spec: SizeSpec) -> None:
    records = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    if spec.parquet_only:
        _write_text_parquet(
            target,
            ({k: record.get(k) for k in CONTRACT_COLUMNS} for record in records),
            spec.copies,
        )
        return
    with target.open("w", encoding="utf-8") as handle:
        for copy in range(spec.copies):
            for record in records:
                copied = {k: prefixed(v, copy) if k in ID_COLUMNS else v for k, v in record.items()}
                handle.write(json.dumps(copied, ensure_ascii=False) + "\n")


def _replicate_csv(source: Path, target: Path, spec: SizeSpec) -> None:
    raw = source.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    newline = "\r\n" if first_line.endswith("\r") else "\n"
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    header, body = rows[0], rows[1:]
    names = [re.sub(r"[\s\-]+", "_", h.strip().lower()) for h in header]
    id_positions = [i for i, name in enumerate(names) if name in PREFIXED_HEADERS]
    if spec.parquet_only:
        records = (
            {name: (value or None) for name, value in zip(names, row, strict=True)} for row in body
        )
        _write_text_parquet(
            target,
            ({k: r.get(k) for k in CONTRACT_COLUMNS} for r in records),
            spec.copies,
        )
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    for copy in range(spec.copies):
        for row in body:
            if copy:
                row = list(row)
                for i in id_positions:
                    row[i] = prefixed(row[i], copy) if row[i] else row[i]
            writer.writerow(row)
    data = buffer.getvalue().encode("utf-8")
    target.write_bytes(b"\xef\xbb\xbf" + data if bom else data)


def _write_text_parquet(target: Path, records, copies: int) -> None:
    records = list(records)
    schema = pa.schema([(name, pa.string()) for name in CONTRACT_COLUMNS])
    with pq.ParquetWriter(target, schema, compression="zstd") as writer:
        for copy in range(copies):
            columns = {
                name: pa.array(
                    [prefixed(r[name], copy) if name in ID_COLUMNS else r[name] for r in records],
                    pa.string(),
                )
                for name in CONTRACT_COLUMNS
            }
            writer.write_table(pa.table(columns, schema=schema))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__)
    parser.add_argument("--size", default="1m")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--end-date", type=date.fromisoformat, default=DEFAULT_END_DATE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data = generate(args.size, args.out, args.seed, args.end_date)
    log.info(json.dumps({k: str(v) for k, v in asdict(data).items()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
