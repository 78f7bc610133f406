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

# Employee identifiers an eNPS export must not carry (normalised header names, see
# landing/readers.py): the loader drops these columns before anything is written, so their values
# reach neither the raw table nor `extra_columns`; only the column names are reported.
EMPLOYEE_IDENTIFIER_COLUMNS: frozenset[str] = frozenset(
    {
        "employee_id",
        "employeeid",
        "employee_number",
        "employee_no",
        "employee",
        "employee_email",
        "employee_name",
        "email",
        "e_mail",
        "email_address",
        "e_mail_address",
        "mail",
        "work_email",
        "name",
        "first_name",
        "firstname",
        "last_name",
        "lastname",
        "surname",
        "full_name",
        "fullname",
        "display_name",
        "staff_id",
        "staff_number",
        "personnel_number",
        "personnel_id",
        "person_id",
        "user_id",
        "username",
        "user_name",
        "login",
        "respondent_id",
        "respondent_email",
        "respondent_name",
        "phone",
        "phone_number",
    }
)

ENPS_RESPONSES = Feed(
    name="enps",
    folder="enps",
    table="enps_responses",
    columns=(
        "response_id",
        "survey_wave",
        "submitted_at",
        "score",
        "comment",
        "language",
        "department",
        "team",
        "location",
        "tenure_band",
    ),
    required=("response_id", "survey_wave"),
    description=(
        "Employee (eNPS) response files from `<landing>/enps/` (CSV, Parquet, JSON lines) as "
        "landed text with lineage. Employee identifier columns (employee_id, email, name, ...) "
        "are dropped at load and never stored; only their names are reported."
    ),
    forbidden=EMPLOYEE_IDENTIFIER_COLUMNS,
)

# Optional voice-of-the-customer feeds: without their folders the follow-up and action plan
# marts still build (no events: every queued detractor is open; no action items).
FOLLOWUP_EVENTS = Feed(
    name="followups",
    folder="followups",
    table="followup_events",
    columns=("response_id", "event", "event_at", "note"),
    required=("response_id", "event", "event_at"),
    description=(
        "Follow-up events on detractor responses from `<landing>/followups/` (event `contacted` "
        "or `resolved`, with its time and an optional note) as landed text with lineage."
    ),
)

ACTION_ITEMS = Feed(
    name="action_plans",
    folder="action_plans",
    table="action_items",
    columns=(
        "action_id",
        "branch_id",
        "department",
        "title",
        "owner",
        "theme",
        "created_at",
        "due_on",
        "status",
        "done_at",
    ),
    required=("action_id", "created_at", "status"),
    description=(
        "Action plan items from `<landing>/action_plans/` (per branch or department: owner, "
        "theme, created, due, status, done) as landed text with lineage."
    ),
)

FEEDS: tuple[Feed, ...] = (NPS_RESPONSES, ENPS_RESPONSES, FOLLOWUP_EVENTS, ACTION_ITEMS)

LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("extra_columns", "varchar"),
    ("_source_file", "varchar"),
    ("_source_row", "bigint"),
    ("_file_checksum", "varchar"),
    ("_file_received_at", "timestamptz"),
    ("_loaded_at", "timestamptz"),
    ("_load_id", "varchar"),
)
