"""Data-quality checks: Great Expectations suites run over batches built from the warehouse.

`gx_engine` is the only module that imports Great Expectations, and it does so lazily (the
import costs seconds), so importing this package is cheap. Suites live as version-controlled
JSON in the repository's `expectations/` folder, one per validated asset.

- `raw_batch_sql`: the batch SQL both response feeds share; `raw_batches` (customers) and
  `raw_enps_batches` (employees) build a file's batch with it, `raw_parameters` computes its
  runtime parameters (score threshold per survey or wave, plausible row-count band);
- `raw_validation`, `verdicts`: validate each newly loaded file, decide whether it is blocked
  (severity from the suite's meta) and store the verdict in `raw.batch_validations`;
- `readers`: how a model's rows reach GX (DuckDB -> Arrow; the engine choice lives here);
- `mart_checks`: model suites as Dagster asset checks;
- `runtime`, `data_docs`, `data_docs_sensor`: where results are kept (under the Dagster home)
  and the static, offline Data Docs site rebuilt after each run (by the command line, and by
  run status sensors for runs launched from the UI, schedules or sensors).
"""
