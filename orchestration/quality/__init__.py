"""Data-quality checks: Great Expectations suites run over batches built from the warehouse.

`gx_engine` is the only module that imports Great Expectations, and it does so lazily (the
import costs seconds), so importing this package is cheap. Suites live as version-controlled
JSON in the repository's `expectations/` folder.
"""
