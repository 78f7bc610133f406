"""Run bench/bare.sql over a landing folder and keep its three result tables in a DuckDB file.

`python -m bench.bare --landing DIR [--landing DIR ...] --out results.duckdb`: every file under
`<DIR>/nps/` of each folder (the pipeline's landing contract), classified by kind; the script
then reads them all in one DuckDB process with default settings. Timed by bench/run.py as the
floor the pipeline is compared with.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

BENCH_DIR = Path(__file__).resolve().parent
SEEDS_DIR = BENCH_DIR.parent / "seeds"
SCRIPT = BENCH_DIR / "bare.sql"
RESULT_TABLES = ("bare_accepted", "bare_daily_branch", "bare_rolling_region")
KINDS = ("store_csv", "delivery_csv", "jsonl", "parquet")


def classify(landings: list[Path]) -> dict[str, list[Path]]:
    """The landing files of each kind the script reads (by how the exporters name them)."""
    files: dict[str, list[Path]] = {kind: [] for kind in KINDS}
    for landing in landings:
        for path in sorted((Path(landing) / "nps").rglob("*")):
            if not path.is_file() or path.name.startswith((".", "_")):
                continue
            if path.suffix == ".parquet":
                files["parquet"].append(path)
            elif path.suffix == ".jsonl":
                files["jsonl"].append(path)
            elif path.suffix == ".csv" and path.name.startswith("delivery_"):
                files["delivery_csv"].append(path)
            elif path.suffix == ".csv":
                files["store_csv"].append(path)
            else:
                raise ValueError(f"bench/bare.sql does not read {path}")
    return files


def _empty_files(directory: Path) -> dict[str, Path]:
    """One empty file per kind, so a list is never empty (DuckDB refuses an empty file list)."""
    empty = {
        "store_csv": directory / "store_empty.csv",
        "delivery_csv": directory / "delivery_empty.csv",
        "jsonl": directory / "empty.jsonl",
        "parquet": directory / "empty.parquet",
    }
    empty["store_csv"].write_text("response_id\n")
    empty["delivery_csv"].write_text("submitted_at\n")
    empty["jsonl"].write_text("")
    names = ("response_id", "survey_id", "submitted_at", "score", "branch_id")
    pq.write_table(pa.table({n: pa.array([], pa.string()) for n in names}), empty["parquet"])
    return empty


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def render(landings: list[Path], scratch: Path) -> str:
    files = classify(landings)
    empty = _empty_files(scratch)
    sql = SCRIPT.read_text()
    for kind in KINDS:
        sql = sql.replace("{" + kind + "}", _sql_list([*files[kind], empty[kind]]))
    sql = sql.replace("{surveys_csv}", _sql_list([SEEDS_DIR / "surveys.csv"])[1:-1])
    return sql.replace("{branches_csv}", _sql_list([SEEDS_DIR / "branches.csv"])[1:-1])


def run_bare(landings: list[Path], out: Path) -> None:
    out = Path(out)
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        sql = render(landings, Path(scratch))
        conn = duckdb.connect()
        try:
            conn.execute(sql)
            conn.execute(f"attach '{out}' as results")
            for table in RESULT_TABLES:
                conn.execute(f"create table results.{table} as select * from {table}")
            conn.execute("detach results")
        finally:
            conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bare", description=__doc__)
    parser.add_argument("--landing", type=Path, action="append", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    run_bare(args.landing, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
