"""Data-quality checks: Great Expectations suites run over batches built from the warehouse.

`gx_engine` is the only module that imports Great Expectations, and it does so lazily (the
import costs seconds), so importing this package is cheap. Suites live as version-controlled
JSON in the repository's `expectations/` folder, one per validated asset.

- `raw_batches`, `raw_parameters`: the per-file batch of a raw customer file and its runtime
  parameters (per-survey score threshold, plausible row-count band);
- `raw_validation`, `verdicts`: validate each newly loaded file, decide whether it is blocked
  (severity from the suite's meta) and store the verdict in `raw.batch_validations`;
- `readers`: how a model's rows reach GX (DuckDB -> Arrow; the engine choice lives here);
- `mart_checks`: model suites as Dagster asset checks;
- `runtime`, `data_docs`: where results are kept (under the Dagster home) and the static,
  offline Data Docs site rebuilt after each run.
"""
