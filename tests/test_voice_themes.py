"""Theme tagging quality, measured on a hand-labelled sample in six languages.

The sample (tests/fixtures/themes/labelled_comments.csv) was written and labelled by hand,
independently of the keyword seed: realistic comments plus tricky negatives (words that contain
a keyword, or share its spelling with another meaning). The SQL under test is the macro the
model int_comment_themes_tagged uses (`theme_matches`), compiled by dbt from the rows of
seeds/themes.csv and run in DuckDB over the sample.

`python -m tests.test_voice_themes` prints the precision/recall table that is in README.md.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "tests" / "fixtures" / "themes" / "labelled_comments.csv"
THEMES_SEED = REPO / "seeds" / "themes.csv"
LANGUAGES = {"en", "es", "nl", "pl", "de", "fr"}
FLOOR = 0.8  # per theme, on the labelled sample


def keyword_rows_literal() -> str:
    """The seed's rows as a Jinja list of dicts: the macro writes its patterns from them."""

    def value(text: str) -> str:
        return json.dumps(text) if text else "none"

    with THEMES_SEED.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return (
        "["
        + ", ".join(
            "{" + ", ".join(f"{json.dumps(key)}: {value(row[key])}" for key in row) + "}"
            for row in rows
        )
        + "]"
    )


def compile_theme_matches(workdir: Path, target_env: dict[str, str] | None = None) -> str:
    """The SQL of macro theme_matches over the sample and the seed, compiled by dbt (for
    DuckDB, or for the target that `target_env` selects)."""
    from dbt.cli.main import dbtRunner

    # reads table `labelled` (id, language, comment), created by the caller
    inline = (
        "with comments as (select id as response_id, language, comment from labelled) "
        f"{{{{ theme_matches('comments', {keyword_rows_literal()}) }}}}"
    )
    target_env = target_env or {"NPS_WAREHOUSE": str(workdir / "compile.duckdb")}
    previous = {name: os.environ.get(name) for name in target_env}
    os.environ.update(target_env)
    try:
        result = dbtRunner().invoke(
            [
                "compile",
                "--inline",
                inline,
                "--quiet",
                "--project-dir",
                str(REPO),
                "--profiles-dir",
                str(REPO),
                "--target-path",
                str(workdir / "target"),
                "--log-path",
                str(workdir / "logs"),
            ]
        )
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    assert result.success, result.exception
    return result.result.results[0].node.compiled_code


@dataclass(frozen=True)
class ThemeScore:
    theme: str
    labelled: int
    tagged: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.tagged if self.tagged else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.labelled if self.labelled else 1.0


def read_sample() -> list[dict[str, str]]:
    with SAMPLE.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def labelled_pairs(sample: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {
        (row["id"], theme) for row in sample for theme in row["themes"].split(";") if theme.strip()
    }


def score(predicted: set[tuple[str, str]], truth: set[tuple[str, str]]) -> list[ThemeScore]:
    themes = sorted({t for _, t in truth} | {t for _, t in predicted})
    labelled = Counter(t for _, t in truth)
    tagged = Counter(t for _, t in predicted)
    correct = Counter(t for _, t in predicted & truth)
    return [ThemeScore(t, labelled[t], tagged[t], correct[t]) for t in themes]


def tag(sql: str, sample: list[dict[str, str]]) -> set[tuple[str, str]]:
    with duckdb.connect() as conn:
        conn.execute("create table labelled (id varchar, language varchar, comment varchar)")
        conn.executemany(
            "insert into labelled values (?, ?, ?)",
            [(row["id"], row["language"], row["comment"]) for row in sample],
        )
        return {(r, t) for r, t in conn.execute(sql).fetchall()}


def measure(workdir: Path, sql: str | None = None) -> tuple[list[ThemeScore], set, set]:
    sql = sql or compile_theme_matches(workdir)
    sample = read_sample()
    predicted = tag(sql, sample)
    truth = labelled_pairs(sample)
    return score(predicted, truth), predicted, truth


# the demo generator's theme names -> the seed's
DEMO_THEMES = {"app": "app_website"}


def demo_sentences() -> list[dict[str, str]]:
    """Every sentence the demo data generator writes, labelled with the theme it was written for."""
    from orchestration.demo_data import COMMENTS

    return [
        {
            "id": f"{language}-{theme}-{tone}-{number}",
            "language": language,
            "comment": sentence,
            "themes": DEMO_THEMES.get(theme, theme),
        }
        for language, themes in COMMENTS.items()
        for theme, tones in themes.items()
        for tone, sentences in enumerate(tones)
        for number, sentence in enumerate(sentences)
    ]


def markdown_table(scores: list[ThemeScore]) -> str:
    lines = [
        "| theme | labelled | tagged | correct | precision | recall |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in scores:
        lines.append(
            f"| `{s.theme}` | {s.labelled} | {s.tagged} | {s.correct} | "
            f"{s.precision:.2f} | {s.recall:.2f} |"
        )
    total = ThemeScore(
        "all",
        sum(s.labelled for s in scores),
        sum(s.tagged for s in scores),
        sum(s.correct for s in scores),
    )
    lines.append(
        f"| all (micro) | {total.labelled} | {total.tagged} | {total.correct} | "
        f"{total.precision:.2f} | {total.recall:.2f} |"
    )
    return "\n".join(lines)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> str:
    return compile_theme_matches(tmp_path_factory.mktemp("themes"))


@pytest.fixture(scope="module")
def measured(compiled: str) -> tuple[list[ThemeScore], set, set]:
    return measure(Path("."), compiled)


def test_sample_covers_six_languages_and_every_theme() -> None:
    sample = read_sample()
    per_language = Counter(row["language"] for row in sample)
    assert set(per_language) == LANGUAGES
    assert min(per_language.values()) >= 20
    seed_themes = {row["theme"] for row in csv.DictReader(THEMES_SEED.open(encoding="utf-8"))}
    assert {t for _, t in labelled_pairs(sample)} == seed_themes
    # tricky negatives: comments that mention no theme at all, in every language
    negatives = Counter(row["language"] for row in sample if not row["themes"])
    assert set(negatives) == LANGUAGES and min(negatives.values()) >= 4


def test_seed_keywords_are_normalised_and_compile() -> None:
    with THEMES_SEED.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["language"] for row in rows} >= LANGUAGES
    for row in rows:
        for column in ("keyword", "exclude"):
            pattern = row[column]
            # matched against lower-case text without accents: an upper-case or accented
            # keyword could never match
            assert pattern == pattern.lower() and pattern.isascii(), row
            re.compile(pattern)


def test_postgres_accent_map_pairs_every_letter() -> None:
    """translate() drops a letter that has no counterpart: both strings must be as long."""
    macro = (REPO / "macros" / "comments.sql").read_text(encoding="utf-8")
    body = macro.split("macro postgres__normalise_for_matching", 1)[1].split("endmacro", 1)[0]
    source, target = re.findall(r"^\s*'((?:[^']|'')*)',?$", body, flags=re.M)[-2:]
    source, target = source.replace("''", "'"), target.replace("''", "'")
    assert len(source) == len(target) and "ł" in source and "ó" in source


def test_precision_and_recall_per_theme_meet_the_floor(measured) -> None:
    scores, predicted, truth = measured
    report = markdown_table(scores)
    misses = sorted(truth - predicted)
    extras = sorted(predicted - truth)
    for s in scores:
        assert s.precision >= FLOOR and s.recall >= FLOOR, (
            f"{report}\nmissed: {misses}\nwrong: {extras}"
        )


def test_tricky_negatives_are_not_tagged(measured) -> None:
    _, predicted, _ = measured
    tagged = {response for response, _ in predicted}
    for response in ("en15", "en16", "en17", "es15", "nl15", "nl16", "pl15", "de15", "fr15"):
        assert response not in tagged, response


def test_a_comment_carries_several_themes(measured) -> None:
    _, predicted, _ = measured
    assert {t for r, t in predicted if r == "en24"} == {"app_website", "waiting_time"}
    assert {t for r, t in predicted if r == "pl22"} == {"delivery", "product_quality"}


def test_every_demo_sentence_gets_its_theme_and_no_other(compiled: str) -> None:
    """The demo data's phrases are covered, so `make run` shows themes in every language."""
    sentences = demo_sentences()
    predicted = tag(compiled, sentences)
    truth = labelled_pairs(sentences)
    assert sorted(truth - predicted) == []
    assert sorted(predicted - truth) == []


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        scores, predicted, truth = measure(Path(tmp))
    print(markdown_table(scores))  # noqa: T201 - a script's output
    print("missed:", sorted(truth - predicted))  # noqa: T201
    print("wrong:", sorted(predicted - truth))  # noqa: T201
