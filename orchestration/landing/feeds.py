"""The landing contract: which folders hold which feed, and the columns each feed carries."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Feed:
    """One kind of landing file: `<landing>/<folder>/**` loaded into `raw.<table>`."""

    name: str
    folder: str
    table: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    description: str
    # Columns that must never be stored (personal identifiers a feed is not supposed to carry).
    forbidden: frozenset[str] = field(default_factory=frozenset)

    @property
    def suite(self) -> str:
        """The Great Expectations suite (expectations/<suite>.json) each loaded file must pass."""
        return f"raw_{self.table}"


NPS_RESPONSES = Feed(
    name="nps",
    folder="nps",
    table="nps_responses",
    columns=(
        "response_id",
        "survey_id",
        "respondent_id",
        "respondent_email",
        "submitted_at",
        "score",
        "comment",
        "language",
        "channel",
        "touchpoint",
        "branch_id",
        "product",
        "consent_contact",
        "consent_testimonial",
    ),
    required=("response_id", "survey_id", "submitted_at", "score"),
    description=(
        "Customer response files from `<landing>/nps/` (CSV, Parquet, JSON lines) as landed "
        "text with lineage: source file, row, checksum, load times."
    ),
)

FEEDS: tuple[Feed, ...] = (NPS_RESPONSES,)

LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("extra_columns", "varchar"),
    ("_source_file", "varchar"),
    ("_source_row", "bigint"),
    ("_file_checksum", "varchar"),
    ("_file_received_at", "timestamptz"),
    ("_loaded_at", "timestamptz"),
    ("_load_id", "varchar"),
)
