"""Demo data: a realistic year of NPS survey exports, with a known set of dirty rows.

`write_demo_data` writes what the survey tools would have dropped into the landing folder over a
year: one Parquet backfill for the first ~9 months, then daily CSV exports (two exporters with
different delimiters, headers, encodings and boolean spellings) and a weekly JSON-lines feed for
the app survey. About 1% of the rows are dirty, each with exactly one defect, so the summary can
say exactly how many rows the loader must accept, quarantine (per reason) and flag as duplicates
under the rules of docs/contracts.md.

Everything is drawn from one `random.Random(seed)` in a fixed order, so the same seed and end date
give byte-identical files.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import math
import random
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"

CONTRACT_COLUMNS: tuple[str, ...] = (
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
)
REQUIRED_COLUMNS = frozenset({"response_id", "survey_id", "submitted_at", "score"})

# Quarantine reasons, in the precedence order of docs/contracts.md.
QUARANTINE_REASONS: tuple[str, ...] = (
    "missing_response_id",
    "missing_survey_id",
    "missing_submitted_at",
    "unparseable_submitted_at",
    "future_submitted_at",
    "missing_score",
    "score_not_integer",
    "score_out_of_scale",
)

UNREGISTERED_BRANCH = "BR-9999"
UNREGISTERED_SURVEY = "SRV-LEGACY"

PROGRAMS: tuple[str, ...] = ("store", "delivery", "app")
PROGRAM_SHARE = {"store": 0.52, "delivery": 0.30, "app": 0.18}
RESPONSE_ID_BASE = {"store": 100_000_000, "delivery": 300_000_000, "app": 500_000_000}
LEGACY_RESPONSE_ID_BASE = 700_000_000
MIN_RESPONSES = 1_000
RESPONDENT_ID_SPACE = 90_000_000
RESPONDENT_ID_STRIDE = 7_368_787  # coprime with the space, so ids never repeat

MONTH_ABBREVIATIONS = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
DIRTY_SHARE = 0.01  # of all rows; split in 11 parts: one per reason, three for duplicates


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoDataSummary:
    landing_dir: Path
    files: list[str]  # written files, relative to landing_dir, forward slashes, load order
    rows: int  # all data rows written (incl. dirty and duplicates)
    expected_accepted: int
    expected_duplicates: int
    expected_quarantined: dict[str, int]  # reason code -> rows
    expected_unregistered_branches: list[str]
    expected_unregistered_surveys: list[str]


def write_demo_data(
    landing_dir: Path,
    responses: int = 50_000,
    seed: int = 42,
    end_date: date | None = None,
) -> DemoDataSummary:
    """Write a year of demo survey exports ending at `end_date` under `landing_dir / "nps"`.

    `responses` is the total number of data rows written (dirty rows and duplicates included).
    The "future" timestamps lie more than a year after `end_date`, so the expected counts hold
    for files loaded within a year of `end_date` (always true with the default, yesterday).
    """
    if responses < MIN_RESPONSES:
        raise ValueError(f"responses must be at least {MIN_RESPONSES}, got {responses}")
    end = end_date or (datetime.now(UTC).date() - timedelta(days=1))
    landing_dir = Path(landing_dir)
    branches = _read_seed("branches.csv")
    surveys = {row["program"]: row for row in _read_seed("surveys.csv")}
    missing = [program for program in PROGRAMS if program not in surveys]
    if missing:
        raise ValueError(f"seeds/surveys.csv has no survey for program(s): {', '.join(missing)}")

    rng = random.Random(seed)
    plan = _Plan.for_responses(responses)
    calendar = _Calendar.ending(end)
    rows = _Rows()
    _generate_clean_rows(rng, rows, calendar, branches, surveys, plan.base)
    _assign_files(rng, rows, calendar)
    _mark_unregistered(rng, rows, calendar, plan)
    order = _inject_defects(rng, rows, calendar, surveys, plan)
    outcome = _expected_outcome(rows, order, branches, surveys)
    if outcome.duplicates != plan.duplicates_same_file + plan.duplicates_later_file:
        raise RuntimeError("demo data generator bug: a duplicate does not follow its original")

    written = _write_files(landing_dir, rows, order, calendar)
    _warn_about_foreign_files(landing_dir, written)
    total = sum(len(indices) for indices in order.values())
    summary = DemoDataSummary(
        landing_dir=landing_dir,
        files=written,
        rows=total,
        expected_accepted=outcome.accepted,
        expected_duplicates=outcome.duplicates,
        expected_quarantined=outcome.quarantined,
        expected_unregistered_branches=outcome.unregistered_branches,
        expected_unregistered_surveys=outcome.unregistered_surveys,
    )
    log.info(
        "wrote %d demo rows in %d files under %s (%s..%s): %d accepted, %d duplicates, "
        "%d quarantined",
        total,
        len(written),
        landing_dir / "nps",
        calendar.start,
        calendar.end,
        outcome.accepted,
        outcome.duplicates,
        sum(outcome.quarantined.values()),
    )
    return summary


# --------------------------------------------------------------------------------------------
# Plan and calendar
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    per_reason: int
    duplicates_same_file: int
    duplicates_later_file: int
    corrections: int  # quarantined rows re-sent later with a valid score (accepted)
    unregistered_branch_rows: int
    unregistered_survey_rows: int
    base: int  # generated rows; duplicates and corrections are copies added on top

    @classmethod
    def for_responses(cls, responses: int) -> _Plan:
        part = responses * DIRTY_SHARE / 11
        per_reason = max(2, round(part))
        same = max(2, round(part * 1.5))
        later = max(2, round(part * 1.5))
        corrections = max(1, per_reason // 3)
        unregistered = max(3, min(40, responses // 2500))
        return cls(
            per_reason=per_reason,
            duplicates_same_file=same,
            duplicates_later_file=later,
            corrections=corrections,
            unregistered_branch_rows=unregistered,
            unregistered_survey_rows=unregistered,
            base=responses - same - later - corrections,
        )


@dataclass(frozen=True)
class _Calendar:
    start: date
    end: date
    days: tuple[date, ...]
    daily_from: int  # index of the first day exported daily (earlier days are in the backfill)
    store_v2_from: int  # index of the first day the store exporter writes its new format
    utc_offsets: tuple[int, ...]  # local (CET/CEST) offset in hours, per day at noon
    dst_switch: dict[int, tuple[int, int, int]]  # day -> (local switch hour, before, after)

    @classmethod
    def ending(cls, end: date) -> _Calendar:
        start = end - timedelta(days=364)
        days = tuple(start + timedelta(days=i) for i in range(365))
        nine_months = start + timedelta(days=273)
        first_of_month = nine_months.replace(day=1)
        if nine_months.day > 15:
            first_of_month = (first_of_month + timedelta(days=32)).replace(day=1)
        daily_from = (first_of_month - start).days
        store_v2_from = daily_from + (365 - daily_from) // 2
        offsets = []
        switches: dict[int, tuple[int, int, int]] = {}
        for index, day in enumerate(days):
            spring, autumn = _last_sunday(day.year, 3), _last_sunday(day.year, 10)
            offsets.append(2 if spring <= day < autumn else 1)
            if day == spring:
                switches[index] = (2, 1, 2)
            elif day == autumn:
                switches[index] = (3, 2, 1)
        return cls(
            start=start,
            end=end,
            days=days,
            daily_from=daily_from,
            store_v2_from=store_v2_from,
            utc_offsets=tuple(offsets),
            dst_switch=switches,
        )

    def offset(self, day: int, seconds: int) -> int:
        switch = self.dst_switch.get(day)
        if switch is None:
            return self.utc_offsets[day]
        hour, before, after = switch
        return before if seconds < hour * 3600 else after


def _last_sunday(year: int, month: int) -> date:
    last = (date(year, month + 1, 1) if month < 12 else date(year + 1, 1, 1)) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - 6) % 7)


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


@dataclass
class _Rows:
    """Column lists for every row written (contract columns as text), plus generation metadata."""

    values: dict[str, list[str | None]] = field(
        default_factory=lambda: {name: [] for name in CONTRACT_COLUMNS}
    )
    program: list[str] = field(default_factory=list)
    day: list[int] = field(default_factory=list)
    seconds: list[int] = field(default_factory=list)  # local time of day
    device: list[str] = field(default_factory=list)
    file: list[str] = field(default_factory=list)
    reason: list[str | None] = field(default_factory=list)  # quarantine reason, None if valid
    special: bytearray = field(default_factory=bytearray)  # 1: unregistered, dirty or copied

    def __len__(self) -> int:
        return len(self.program)

    def copy_row(self, index: int) -> int:
        for column in self.values.values():
            column.append(column[index])
        self.program.append(self.program[index])
        self.day.append(self.day[index])
        self.seconds.append(self.seconds[index])
        self.device.append(self.device[index])
        self.file.append(self.file[index])
        self.reason.append(self.reason[index])
        self.special.append(1)
        return len(self.program) - 1


def _read_seed(name: str) -> list[dict[str, str]]:
    with (SEEDS_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# Languages spoken by respondents, per country (weights); Brussels leans French.
LANGUAGES_BY_COUNTRY: dict[str, tuple[tuple[str, float], ...]] = {
    "NL": (("nl", 0.82), ("en", 0.18)),
    "BE": (("nl", 0.62), ("fr", 0.22), ("en", 0.16)),
    "ES": (("es", 0.88), ("en", 0.12)),
    "PL": (("pl", 0.90), ("en", 0.10)),
    "DE": (("de", 0.70), ("en", 0.30)),
    "FR": (("fr", 0.80), ("en", 0.20)),
}
LANGUAGES_BRUSSELS = (("fr", 0.60), ("nl", 0.25), ("en", 0.15))
LANGUAGES_OTHER = (("en", 1.0),)

# Newer markets answer less often (fewer customers there); relative response volume.
COUNTRY_VOLUME = {"DE": 0.55, "FR": 0.45}
# How much each country likes us (NPS points / 100), before region, district and branch effects.
COUNTRY_NPS = {"ES": 0.08, "PL": 0.06, "BE": 0.02, "NL": -0.02, "DE": -0.07, "FR": -0.04}
PROGRAM_NPS = {"store": 0.05, "delivery": -0.07, "app": 0.0}
BASE_NPS = 0.28
PASSIVE_SHARE = 0.30

WEEKDAY_VOLUME = {
    "store": (0.85, 0.85, 0.90, 0.95, 1.15, 1.45, 0.55),
    "delivery": (1.30, 1.20, 1.05, 1.00, 0.95, 0.75, 0.75),
    "app": (0.95, 0.90, 0.90, 0.95, 1.00, 1.10, 1.30),
}
SEASON_AMPLITUDE = {"store": 0.18, "delivery": 0.30, "app": 0.12}
HOUR_VOLUME = {
    "store": {
        7: 1,
        8: 3,
        9: 5,
        10: 7,
        11: 8,
        12: 9,
        13: 8,
        14: 7,
        15: 7,
        16: 8,
        17: 9,
        18: 9,
        19: 8,
        20: 6,
        21: 4,
        22: 2,
        23: 1,
    },
    "delivery": {
        8: 2,
        9: 3,
        10: 4,
        11: 5,
        12: 6,
        13: 6,
        14: 6,
        15: 6,
        16: 7,
        17: 8,
        18: 10,
        19: 10,
        20: 9,
        21: 7,
        22: 4,
        23: 2,
    },
    "app": {
        0: 2,
        1: 1,
        2: 1,
        3: 1,
        4: 1,
        5: 1,
        6: 2,
        7: 4,
        8: 5,
        9: 5,
        10: 5,
        11: 5,
        12: 6,
        13: 6,
        14: 5,
        15: 5,
        16: 6,
        17: 7,
        18: 8,
        19: 9,
        20: 10,
        21: 10,
        22: 8,
        23: 5,
    },
}
CHANNELS = {
    "store": (("in_store", 0.40), ("email", 0.35), ("sms", 0.25)),
    "delivery": (("email", 0.50), ("sms", 0.40), ("web", 0.10)),
    "app": (("app", 0.90), ("web", 0.10)),
}
TOUCHPOINTS = {
    "store": (("visit", 0.70), ("purchase", 0.25), ("support", 0.05)),
    "delivery": (("delivery", 0.85), ("support", 0.15)),
    "app": (("purchase", 0.60), ("delivery", 0.25), ("support", 0.15)),
}
PRODUCTS = {
    "store": (
        ("Fresh food", 0.28),
        ("Bakery", 0.14),
        ("Household", 0.16),
        ("Electronics", 0.10),
        ("Toys", 0.06),
        ("Garden", 0.07),
        ("Pharmacy", 0.08),
        ("Clothing", 0.05),
        (None, 0.06),
    ),
    "delivery": (
        ("Weekly groceries", 0.45),
        ("Fresh food", 0.15),
        ("Household", 0.12),
        ("Electronics", 0.12),
        ("Garden", 0.06),
        ("Toys", 0.04),
        (None, 0.06),
    ),
    "app": (
        ("Weekly groceries", 0.35),
        ("Click & collect", 0.25),
        ("Electronics", 0.12),
        ("Gift card", 0.08),
        ("Household", 0.10),
        (None, 0.10),
    ),
}
THEMES = {
    "store": (("waiting_time", 0.30), ("staff", 0.30), ("price", 0.20), ("product_quality", 0.20)),
    "delivery": (("delivery", 0.50), ("product_quality", 0.20), ("price", 0.15), ("staff", 0.15)),
    "app": (("app", 0.55), ("delivery", 0.20), ("price", 0.15), ("product_quality", 0.10)),
}
# Score weights within each NPS category, on a 0-10 scale.
CATEGORY_SCORES = {
    "detractor": ((0, 3), (1, 1), (2, 2), (3, 3), (4, 4), (5, 7), (6, 10)),
    "passive": ((7, 45), (8, 55)),
    "promoter": ((9, 55), (10, 45)),
}
NO_COMMENT_PLACEHOLDERS = ("-", "n/a", "N/A", "none", "None", ".", "--", " ", "   ")
COMMENT_PROBABILITY = {"detractor": 0.85, "passive": 0.60, "promoter": 0.68}
COMMENT_POOL_SIZE = 400
CATEGORIES = ("detractor", "passive", "promoter")
DETRACTOR, PASSIVE, PROMOTER = range(3)
# Share of responses about another branch than the respondent's own (app: about no branch).
BRANCH_ELSEWHERE = {"store": 0.12, "delivery": 0.05, "app": 0.30}

FIRST_NAMES = {
    "nl": ("jan", "sanne", "pieter", "lotte", "daan", "emma", "bram", "fleur", "joost", "anouk"),
    "fr": ("julien", "camille", "nicolas", "manon", "thomas", "chloe", "lucas", "lea"),
    "es": ("javier", "lucia", "carlos", "maria", "alejandro", "carmen", "pablo", "elena"),
    "pl": ("piotr", "anna", "krzysztof", "katarzyna", "tomasz", "magdalena", "pawel", "agnieszka"),
    "de": ("lukas", "anna", "jonas", "lea", "felix", "laura", "maximilian", "sophie"),
    "en": ("james", "olivia", "daniel", "emily", "michael", "sarah", "david", "hannah"),
}
LAST_NAMES = {
    "nl": ("jansen", "devries", "bakker", "visser", "smit", "meijer", "peeters", "janssens"),
    "fr": ("martin", "bernard", "dubois", "lambert", "dupont", "leroy", "moreau", "simon"),
    "es": ("garcia", "martinez", "lopez", "sanchez", "perez", "gomez", "fernandez", "ruiz"),
    "pl": ("nowak", "kowalski", "wisniewska", "wojcik", "kaminski", "lewandowska", "zielinski"),
    "de": ("mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker"),
    "en": ("smith", "jones", "brown", "taylor", "wilson", "evans", "walker", "roberts"),
}

# Comment sentences per language, theme and tone (negative, positive).
COMMENTS: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "en": {
        "waiting_time": (
            (
                "Waited far too long at the checkout.",
                "Only one till open and a long queue.",
                "Twenty minutes in the queue, not acceptable.",
            ),
            ("No queue at all, in and out in five minutes.", "Quick checkout, hardly any waiting."),
        ),
        "price": (
            (
                "Prices are too high compared to other shops.",
                "Far too expensive for what you get.",
                "Prices went up again, not happy.",
            ),
            ("Good value for money.", "Great prices and nice offers this week."),
        ),
        "staff": (
            (
                "Staff were rude and not helpful.",
                "Nobody could answer my question, the staff seemed uninterested.",
            ),
            (
                "Very friendly and helpful staff.",
                "The staff went out of their way to help me, thank you!",
            ),
        ),
        "delivery": (
            (
                "The delivery was two days late.",
                "Parcel arrived damaged and the courier just left it at the door.",
                "The delivery slot was missed and nobody called.",
            ),
            (
                "Delivery was fast and on time.",
                "The courier was friendly and the delivery arrived early.",
            ),
        ),
        "app": (
            (
                "The app keeps crashing at checkout.",
                "The website is slow and I could not log in.",
                "Payment in the app failed twice.",
            ),
            (
                "The app is easy to use and ordering is quick.",
                "Love the new app, very clear and fast.",
            ),
        ),
        "product_quality": (
            (
                "Product quality has gone down, the fruit was already bad.",
                "The product broke after one week.",
            ),
            ("Great quality products, always fresh.", "Excellent product quality."),
        ),
    },
    "es": {
        "waiting_time": (
            (
                "Esperé demasiado tiempo en la caja.",
                "Solo había una caja abierta y una cola enorme.",
                "Veinte minutos de cola, inaceptable.",
            ),
            ("Sin colas, entré y salí en cinco minutos.", "Pago rápido, casi sin espera."),
        ),
        "price": (
            (
                "Los precios son demasiado altos.",
                "Muy caro para lo que ofrecen.",
                "Han vuelto a subir los precios.",
            ),
            ("Buena relación calidad-precio.", "Precios muy buenos y buenas ofertas."),
        ),
        "staff": (
            (
                "El personal fue muy maleducado.",
                "Nadie supo responder a mi pregunta, el personal no mostró interés.",
            ),
            ("Personal muy amable y atento.", "La dependienta me ayudó muchísimo, ¡gracias!"),
        ),
        "delivery": (
            (
                "El pedido llegó con dos días de retraso.",
                "El paquete llegó dañado.",
                "No respetaron la franja de entrega y nadie avisó.",
            ),
            (
                "La entrega fue rápida y puntual.",
                "El repartidor fue muy amable y el pedido llegó antes de tiempo.",
            ),
        ),
        "app": (
            (
                "La aplicación se cierra al pagar.",
                "La web va muy lenta y no pude iniciar sesión.",
                "El pago en la app falló dos veces.",
            ),
            ("La app es muy fácil de usar.", "Me encanta la nueva aplicación, rápida y clara."),
        ),
        "product_quality": (
            ("La calidad ha bajado, la fruta estaba pasada.", "El producto se rompió a la semana."),
            ("Productos de muy buena calidad, siempre frescos.", "Excelente calidad."),
        ),
    },
    "nl": {
        "waiting_time": (
            (
                "Veel te lang moeten wachten bij de kassa.",
                "Maar één kassa open en een lange rij.",
                "Twintig minuten in de rij, onacceptabel.",
            ),
            ("Geen wachtrij, binnen vijf minuten klaar.", "Snel afgerekend, nauwelijks wachttijd."),
        ),
        "price": (
            (
                "De prijzen zijn te hoog.",
                "Veel te duur voor wat je krijgt.",
                "Alweer duurder geworden, niet blij mee.",
            ),
            ("Goede prijs-kwaliteitverhouding.", "Scherpe prijzen en leuke aanbiedingen."),
        ),
        "staff": (
            (
                "Het personeel was onvriendelijk en hielp niet.",
                "Niemand kon mijn vraag beantwoorden, het personeel had geen interesse.",
            ),
            (
                "Heel vriendelijk en behulpzaam personeel.",
                "De medewerker deed echt zijn best om me te helpen, bedankt!",
            ),
        ),
        "delivery": (
            (
                "De bezorging was twee dagen te laat.",
                "Pakket kwam beschadigd aan en werd gewoon voor de deur gezet.",
                "Bezorgmoment gemist en niemand belde.",
            ),
            (
                "Snelle bezorging, precies op tijd.",
                "Vriendelijke bezorger en het pakket was er eerder dan verwacht.",
            ),
        ),
        "app": (
            (
                "De app crasht steeds bij het afrekenen.",
                "De website is traag en ik kon niet inloggen.",
                "Betalen in de app mislukte twee keer.",
            ),
            (
                "De app is makkelijk in gebruik en bestellen gaat snel.",
                "Mooie nieuwe app, overzichtelijk en snel.",
            ),
        ),
        "product_quality": (
            (
                "De kwaliteit is achteruitgegaan, het fruit was al rot.",
                "Het product was na een week al kapot.",
            ),
            ("Producten van goede kwaliteit, altijd vers.", "Uitstekende kwaliteit."),
        ),
    },
    "pl": {
        "waiting_time": (
            (
                "Zdecydowanie za długo czekałem przy kasie.",
                "Tylko jedna kasa otwarta i ogromna kolejka.",
                "Dwadzieścia minut w kolejce, to nie do przyjęcia.",
            ),
            (
                "Żadnej kolejki, zakupy w pięć minut.",
                "Szybka obsługa przy kasie, prawie bez czekania.",
            ),
        ),
        "price": (
            (
                "Ceny są za wysokie.",
                "Zdecydowanie za drogo jak na to, co oferujecie.",
                "Znowu podnieśliście ceny.",
            ),
            ("Dobry stosunek jakości do ceny.", "Świetne ceny i dobre promocje."),
        ),
        "staff": (
            (
                "Obsługa była niemiła i nie pomogła.",
                "Nikt nie umiał odpowiedzieć na moje pytanie, personel był obojętny.",
            ),
            ("Bardzo miła i pomocna obsługa.", "Pracownik bardzo mi pomógł, dziękuję!"),
        ),
        "delivery": (
            (
                "Dostawa spóźniła się o dwa dni.",
                "Paczka przyszła uszkodzona.",
                "Kurier nie przyjechał w wybranym oknie i nikt nie zadzwonił.",
            ),
            ("Dostawa szybka i na czas.", "Miły kurier, paczka przyszła wcześniej niż planowano."),
        ),
        "app": (
            (
                "Aplikacja ciągle się zawiesza przy płatności.",
                "Strona działa wolno i nie mogłem się zalogować.",
                "Płatność w aplikacji dwa razy się nie udała.",
            ),
            (
                "Aplikacja jest prosta w obsłudze, zamawianie idzie szybko.",
                "Nowa aplikacja jest świetna, przejrzysta i szybka.",
            ),
        ),
        "product_quality": (
            (
                "Jakość produktów się pogorszyła, owoce były zepsute.",
                "Produkt zepsuł się po tygodniu.",
            ),
            ("Produkty dobrej jakości, zawsze świeże.", "Doskonała jakość produktów."),
        ),
    },
    "de": {
        "waiting_time": (
            (
                "Viel zu lange an der Kasse gewartet.",
                "Nur eine Kasse offen und eine lange Schlange.",
            ),
            ("Keine Warteschlange, in fünf Minuten fertig.",),
        ),
        "price": (
            ("Die Preise sind zu hoch.", "Viel zu teuer für das, was man bekommt."),
            ("Gutes Preis-Leistungs-Verhältnis.",),
        ),
        "staff": (
            ("Das Personal war unfreundlich und nicht hilfsbereit.",),
            ("Sehr freundliches und hilfsbereites Personal.",),
        ),
        "delivery": (
            ("Die Lieferung kam zwei Tage zu spät.", "Das Paket kam beschädigt an."),
            ("Schnelle und pünktliche Lieferung.",),
        ),
        "app": (
            (
                "Die App stürzt beim Bezahlen ständig ab.",
                "Die Webseite ist langsam, ich konnte mich nicht anmelden.",
            ),
            ("Die App ist einfach zu bedienen.",),
        ),
        "product_quality": (
            ("Die Qualität hat nachgelassen, das Obst war schon schlecht.",),
            ("Sehr gute Qualität, immer frisch.",),
        ),
    },
    "fr": {
        "waiting_time": (
            (
                "Beaucoup trop d'attente à la caisse.",
                "Une seule caisse ouverte et une longue file.",
            ),
            ("Aucune attente, terminé en cinq minutes.",),
        ),
        "price": (
            ("Les prix sont trop élevés.", "Beaucoup trop cher pour ce que c'est."),
            ("Bon rapport qualité-prix.",),
        ),
        "staff": (
            ("Le personnel était désagréable et peu serviable.",),
            ("Personnel très aimable et serviable.",),
        ),
        "delivery": (
            ("La livraison avait deux jours de retard.", "Le colis est arrivé abîmé."),
            ("Livraison rapide et à l'heure.",),
        ),
        "app": (
            (
                "L'application plante au moment du paiement.",
                "Le site est lent et je n'ai pas pu me connecter.",
            ),
            ("L'application est simple à utiliser.",),
        ),
        "product_quality": (
            ("La qualité a baissé, les fruits étaient déjà abîmés.",),
            ("Produits de très bonne qualité, toujours frais.",),
        ),
    },
}


class _Picker:
    """Weighted choice by bisecting cumulative weights with a uniform draw."""

    def __init__(self, weighted: Sequence[tuple[object, float]]) -> None:
        self.items = [item for item, _ in weighted]
        self.cumulative = list(itertools.accumulate(weight for _, weight in weighted))
        self.total = self.cumulative[-1]

    def at(self, uniform: float) -> Any:
        """The item at `uniform` (in [0, 1)) of the weight distribution."""
        return self.items[bisect_right(self.cumulative, uniform * self.total)]

    def pick(self, rng: random.Random) -> Any:
        return self.at(rng.random())

    def sample(self, rng: random.Random, k: int) -> list[Any]:
        return rng.choices(self.items, cum_weights=self.cumulative, k=k)


def _uniforms(rng: random.Random, k: int) -> list[float]:
    draw = rng.random
    return [draw() for _ in range(k)]


@dataclass(frozen=True)
class _Customers:
    respondent_id: list[str]
    email: list[str | None]
    branch: list[int]  # home branch index
    language: list[str]
    label: list[str]  # how exporters sometimes write the language (`EN`, `nl-BE`)
    label_share: list[float]  # how often they do


def _make_customers(
    rng: random.Random, branches: list[dict[str, str]], branch_volume: list[float], count: int
) -> _Customers:
    home = rng.choices(range(len(branches)), weights=branch_volume, k=count)
    # unique 8-digit ids that do not reveal the order customers were made in
    start = rng.randrange(RESPONDENT_ID_SPACE)
    numbers = [
        10_000_000 + (start + i * RESPONDENT_ID_STRIDE) % RESPONDENT_ID_SPACE for i in range(count)
    ]
    pickers: dict[str, _Picker] = {}
    branch_pickers = []
    for branch in branches:
        key = "Brussel" if branch["district"] == "Brussel" else branch["country"]
        if key not in pickers:
            weights = (
                LANGUAGES_BRUSSELS
                if key == "Brussel"
                else LANGUAGES_BY_COUNTRY.get(key, LANGUAGES_OTHER)
            )
            pickers[key] = _Picker(weights)
        branch_pickers.append(pickers[key])
    languages = [branch_pickers[h].at(u) for h, u in zip(home, _uniforms(rng, count), strict=True)]
    emails = [
        None
        if u < 0.12
        else (
            f"{FIRST_NAMES[lang][int(v * len(FIRST_NAMES[lang]))]}."
            f"{LAST_NAMES[lang][int(w * len(LAST_NAMES[lang]))]}{n % 1000}@example.com"
        )
        for lang, n, u, v, w in zip(
            languages,
            numbers,
            _uniforms(rng, count),
            _uniforms(rng, count),
            _uniforms(rng, count),
            strict=True,
        )
    ]
    labels, shares = [], []
    for lang, h in zip(languages, home, strict=True):
        if lang == "en":
            labels.append("EN")
            shares.append(0.04)
        elif lang in ("nl", "fr") and branches[h]["country"] == "BE":
            labels.append(f"{lang}-BE")
            shares.append(0.35)
        else:
            labels.append(lang)
            shares.append(0.0)
    return _Customers(
        respondent_id=[f"C{n:08d}" for n in numbers],
        email=emails,
        branch=home,
        language=languages,
        label=labels,
        label_share=shares,
    )


def _respondent_slots(rng: random.Random, total: int) -> tuple[int, list[int]]:
    """How many customers answer, and which customer gives each response (1-6 each)."""
    counts_picker = _Picker(((1, 55), (2, 18), (3, 11), (4, 8), (5, 5), (6, 3)))
    counts: list[int] = []
    while sum(counts) < total:
        counts.extend(counts_picker.sample(rng, total // 2 + 10))
    customers = bisect_right(list(itertools.accumulate(counts)), total - 1) + 1
    slots = [customer for customer, count in enumerate(counts[:customers]) for _ in range(count)]
    del slots[total:]
    rng.shuffle(slots)
    return customers, slots


def _day_weights(calendar: _Calendar, program: str) -> list[float]:
    weekday = WEEKDAY_VOLUME[program]
    amplitude = SEASON_AMPLITUDE[program]
    weights = []
    for index, day in enumerate(calendar.days):
        day_of_year = day.timetuple().tm_yday
        weight = weekday[day.weekday()] * (
            1 + amplitude * math.cos(2 * math.pi * (day_of_year - 355) / 365.25)
        )
        if program == "app":
            weight *= 0.75 + 0.5 * index / 364  # app adoption grows over the year
        if program == "store" and (day.month, day.day) in ((12, 25), (12, 26), (1, 1)):
            weight *= 0.15
        weights.append(weight)
    return weights


def _day_nps(calendar: _Calendar, program: str) -> list[float]:
    """Base NPS per day for a program: a gentle improvement over the year, a delivery peak dip."""
    span = len(calendar.days) - 1
    result = []
    for index, day in enumerate(calendar.days):
        nps = BASE_NPS + PROGRAM_NPS[program] - 0.05 + 0.10 * index / span
        if program == "delivery" and (day.month == 12 or (day.month == 11 and day.day >= 20)):
            nps -= 0.08  # the December peak strains the couriers
        result.append(nps)
    return result


def _generate_clean_rows(
    rng: random.Random,
    rows: _Rows,
    calendar: _Calendar,
    branches: list[dict[str, str]],
    surveys: dict[str, dict[str, str]],
    total: int,
) -> None:
    """Valid rows for every program, ordered by program then local time."""
    branch_volume = [
        rng.lognormvariate(0, 0.5) * COUNTRY_VOLUME.get(branch["country"], 1.0)
        for branch in branches
    ]
    branch_nps = _branch_effects(rng, branches)
    by_district: dict[str, list[int]] = {}
    for index, branch in enumerate(branches):
        by_district.setdefault(branch["district"], []).append(index)
    neighbours = [by_district[branch["district"]] for branch in branches]
    branch_ids = [branch["branch_id"] for branch in branches]

    customer_count, slots = _respondent_slots(rng, total)
    customers = _make_customers(rng, branches, branch_volume, customer_count)
    counts = {program: round(total * PROGRAM_SHARE[program]) for program in PROGRAMS}
    counts["store"] = total - counts["delivery"] - counts["app"]
    score_pickers = [_Picker(CATEGORY_SCORES[name]) for name in CATEGORIES]
    comment_share = [COMMENT_PROBABILITY[name] for name in CATEGORIES]
    testimonial_share = [0.08, 0.08, 0.40]
    values = rows.values
    offset = 0
    for program in PROGRAMS:
        n = counts[program]
        survey = surveys[program]
        low, high = int(survey["scale_min"]), int(survey["scale_max"])
        score_text = {score: str(min(high, max(low, score))) for score in range(11)}

        days = rng.choices(range(len(calendar.days)), weights=_day_weights(calendar, program), k=n)
        hours = _Picker(tuple(HOUR_VOLUME[program].items())).sample(rng, n)
        moments = sorted(
            day * 86400 + hour * 3600 + int(u * 3600)
            for day, hour, u in zip(days, hours, _uniforms(rng, n), strict=True)
        )
        gaps = rng.choices((1, 1, 1, 2, 3), k=n)
        numbers = list(itertools.accumulate(gaps, initial=RESPONSE_ID_BASE[program]))[1:]
        who = slots[offset : offset + n]
        homes = [customers.branch[c] for c in who]
        # where they answered about: mostly their home branch, sometimes a neighbour (store,
        # delivery) or no branch at all (app)
        moved = BRANCH_ELSEWHERE[program]
        if program == "app":
            where = [h if u >= moved else -1 for h, u in zip(homes, _uniforms(rng, n), strict=True)]
        else:
            where = [
                h if u >= moved else neighbours[h][int(u / moved * len(neighbours[h]))]
                for h, u in zip(homes, _uniforms(rng, n), strict=True)
            ]
        day_nps = _day_nps(calendar, program)
        categories, scores = [], []
        for moment, h, b, u in zip(moments, homes, where, _uniforms(rng, n), strict=True):
            nps = day_nps[moment // 86400] + branch_nps[h if b < 0 else b]
            detractor = (1 - PASSIVE_SHARE - min(0.65, max(-0.6, nps))) / 2
            # one draw decides the category, and where it fell within it decides the score
            if u < detractor:
                category, within = DETRACTOR, u / detractor
            elif u < detractor + PASSIVE_SHARE:
                category, within = PASSIVE, (u - detractor) / PASSIVE_SHARE
            else:
                category = PROMOTER
                within = (u - detractor - PASSIVE_SHARE) / (1 - detractor - PASSIVE_SHARE)
            categories.append(category)
            scores.append(score_text[score_pickers[category].at(within)])
        pools = _comment_pools(rng, _Picker(THEMES[program]))
        comments = [
            pools[customers.language[c]][category][int(v * COMMENT_POOL_SIZE)]
            if u < comment_share[category]
            else (
                NO_COMMENT_PLACEHOLDERS[int(v / 0.18 * len(NO_COMMENT_PLACEHOLDERS))]
                if v < 0.18
                else None
            )
            for c, category, u, v in zip(
                who, categories, _uniforms(rng, n), _uniforms(rng, n), strict=True
            )
        ]
        channels = _Picker(CHANNELS[program]).sample(rng, n)

        values["response_id"].extend([f"R{number:09d}" for number in numbers])
        values["survey_id"].extend([survey["survey_id"]] * n)
        values["respondent_id"].extend([customers.respondent_id[c] for c in who])
        values["respondent_email"].extend([customers.email[c] for c in who])
        values["submitted_at"].extend([None] * n)  # written once the exporter is known
        values["score"].extend(scores)
        values["comment"].extend(comments)
        values["language"].extend(
            [
                customers.label[c] if u < customers.label_share[c] else customers.language[c]
                for c, u in zip(who, _uniforms(rng, n), strict=True)
            ]
        )
        values["channel"].extend(channels)
        values["touchpoint"].extend(_Picker(TOUCHPOINTS[program]).sample(rng, n))
        values["branch_id"].extend([branch_ids[b] if b >= 0 else None for b in where])
        values["product"].extend(_Picker(PRODUCTS[program]).sample(rng, n))
        values["consent_contact"].extend([_consent(u, 0.45) for u in _uniforms(rng, n)])
        values["consent_testimonial"].extend(
            [
                _consent(u, testimonial_share[category])
                for category, u in zip(categories, _uniforms(rng, n), strict=True)
            ]
        )
        rows.program.extend([program] * n)
        rows.day.extend([moment // 86400 for moment in moments])
        rows.seconds.extend([moment % 86400 for moment in moments])
        rows.device.extend(
            [
                ("ios" if u < 0.55 else "android") if channel == "app" else "web"
                for channel, u in zip(channels, _uniforms(rng, n), strict=True)
            ]
        )
        rows.reason.extend([None] * n)
        rows.special.extend(bytes(n))
        offset += n


def _branch_effects(rng: random.Random, branches: list[dict[str, str]]) -> list[float]:
    """NPS offset per branch: country + region + district + branch, centred on zero."""
    region_effect = {
        name: rng.gauss(0, 0.03) for name in sorted({branch["region"] for branch in branches})
    }
    district_effect = {
        name: rng.gauss(0, 0.03) for name in sorted({branch["district"] for branch in branches})
    }
    effects = [
        COUNTRY_NPS.get(branch["country"], 0.0)
        + region_effect[branch["region"]]
        + district_effect[branch["district"]]
        + rng.gauss(0, 0.06)
        for branch in branches
    ]
    mean = sum(effects) / len(effects)
    return [effect - mean for effect in effects]


def _comment_pools(rng: random.Random, themes: _Picker) -> dict[str, list[list[str]]]:
    """Per language and NPS category, a sample of comments to draw from (cheaper per row)."""
    return {
        language: [
            [_comment(rng, language, category, themes) for _ in range(COMMENT_POOL_SIZE)]
            for category in range(len(CATEGORIES))
        ]
        for language in sorted(COMMENTS)
    }


def _comment(rng: random.Random, language: str, category: int, themes: _Picker) -> str:
    """A comment in the respondent's language: detractors complain, promoters praise."""
    sentences = COMMENTS[language]
    first = themes.pick(rng)
    second = themes.pick(rng) if rng.random() < 0.3 else first
    if category == PASSIVE:
        # passives are lukewarm: something good and something bad, or one mild remark
        if second != first or rng.random() < 0.5:
            while second == first:
                second = themes.pick(rng)
            parts = [rng.choice(sentences[first][1]), rng.choice(sentences[second][0])]
        else:
            parts = [rng.choice(sentences[first][rng.random() < 0.4])]
    else:
        tone = 0 if category == DETRACTOR else 1
        parts = [rng.choice(sentences[first][tone])]
        if second != first:
            parts.append(rng.choice(sentences[second][tone]))
    text = " ".join(parts)
    return text.lower() if rng.random() < 0.05 else text


def _consent(uniform: float, yes: float) -> str | None:
    if uniform < 0.05:
        return None
    return "true" if uniform < 0.05 + yes * 0.95 else "false"


# --------------------------------------------------------------------------------------------
# Files and exporters
# --------------------------------------------------------------------------------------------

BOOLEAN_SPELLINGS = {
    "store_v1": ("yes", "no"),
    "store_v2": ("Yes", "No"),
    "delivery": ("1", "0"),
    "app": ("true", "false"),
}
# the backfill was consolidated from several systems, each with its own spelling
BACKFILL_SPELLINGS = (
    (("true", "false"), 0.50),
    (("yes", "no"), 0.20),
    (("1", "0"), 0.15),
    (("TRUE", "FALSE"), 0.10),
    (("Yes", "No"), 0.05),
)
STORE_V1_HEADER = {
    name: "_".join(part.upper() if part == "id" else part.capitalize() for part in name.split("_"))
    for name in CONTRACT_COLUMNS
}
STORE_V2_HEADER = {name: name.replace("_", " ") for name in CONTRACT_COLUMNS}
STORE_V2_HEADER.update({"score": " score ", "comment": "comment "})
DELIVERY_ORDER = (
    "submitted_at",
    "response_id",
    "survey_id",
    "score",
    "comment",
    "respondent_id",
    "respondent_email",
    "branch_id",
    "product",
    "channel",
    "touchpoint",
    "language",
    "consent_contact",
    "consent_testimonial",
)
DELIVERY_HEADER = {
    name: "-".join(part.upper() if part == "id" else part.capitalize() for part in name.split("_"))
    for name in CONTRACT_COLUMNS
}


def _exporter_of_day(program: str, day: int, calendar: _Calendar) -> str:
    if day < calendar.daily_from:
        return "backfill"
    if program == "store":
        return "store_v1" if day < calendar.store_v2_from else "store_v2"
    return program


def _backfill_path(calendar: _Calendar) -> str:
    last = calendar.days[calendar.daily_from - 1]
    return f"nps/backfill/responses_{calendar.start.isoformat()}_{last.isoformat()}.parquet"


def _file_for(program: str, day: date) -> str:
    if program == "app":
        year, week, _ = day.isocalendar()
        return f"nps/app/{year}-W{week:02d}.jsonl"
    return f"nps/daily/{day.year}/{day.month:02d}/{program}_{day.isoformat()}.csv"


# How each exporter writes `submitted_at`; the backfill mixes the styles of several systems.
TIMESTAMP_STYLES = {
    "store_v1": "offset",  # local time with its offset
    "store_v2": "offset",
    "delivery": "naive",  # UTC without an offset
    "app": "utc_millis",  # UTC with milliseconds and Z
}
BACKFILL_STYLES = (("utc", 0.55), ("offset", 0.35), ("naive", 0.10))


def _assign_files(rng: random.Random, rows: _Rows, calendar: _Calendar) -> None:
    """Pick each row's file, and write its timestamp and booleans the way its exporter does."""
    backfill = _backfill_path(calendar)
    exporters = {
        program: [_exporter_of_day(program, day, calendar) for day in range(len(calendar.days))]
        for program in PROGRAMS
    }
    paths = {
        program: [
            backfill if exporter == "backfill" else _file_for(program, calendar.days[day])
            for day, exporter in enumerate(exporters[program])
        ]
        for program in PROGRAMS
    }
    rows.file.extend(
        [paths[program][day] for program, day in zip(rows.program, rows.day, strict=True)]
    )

    day_text = [day.isoformat() for day in calendar.days]
    day_before = [(calendar.start - timedelta(days=1)).isoformat(), *day_text[:-1]]
    clock = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]
    backfill_styles = _Picker(BACKFILL_STYLES)
    backfill_spellings = _Picker(BACKFILL_SPELLINGS)
    submitted = rows.values["submitted_at"]
    contact = rows.values["consent_contact"]
    testimonial = rows.values["consent_testimonial"]
    draws = zip(_uniforms(rng, len(rows)), _uniforms(rng, len(rows)), strict=True)
    for index, (program, day, seconds, (u, v)) in enumerate(
        zip(rows.program, rows.day, rows.seconds, draws, strict=True)
    ):
        exporter = exporters[program][day]
        offset = calendar.offset(day, seconds)
        if exporter == "backfill":
            style = backfill_styles.at(u)
            true, false = backfill_spellings.at(v)
        else:
            style = TIMESTAMP_STYLES[exporter]
            true, false = BOOLEAN_SPELLINGS[exporter]
        if style == "offset":
            submitted[index] = f"{day_text[day]}T{clock[seconds]}+0{offset}:00"
        else:
            utc = seconds - offset * 3600
            text = day_text[day] if utc >= 0 else day_before[day]
            stamp = f"{text}T{clock[utc % 86400]}"
            if style == "utc":
                stamp += "Z"
            elif style == "utc_millis":
                stamp += f".{index * 389 % 1000:03d}Z"
            submitted[index] = stamp
        value = contact[index]
        if value is not None:
            contact[index] = true if value == "true" else false
        value = testimonial[index]
        if value is not None:
            testimonial[index] = true if value == "true" else false


# --------------------------------------------------------------------------------------------
# Unregistered references, dirty rows, duplicates
# --------------------------------------------------------------------------------------------


def _mark_unregistered(rng: random.Random, rows: _Rows, calendar: _Calendar, plan: _Plan) -> None:
    """Valid rows for a branch and a survey the seeds do not know (they must be accepted)."""
    legacy = [
        index
        for index in range(len(rows))
        if rows.program[index] == "store" and rows.day[index] < min(60, calendar.daily_from)
    ]
    chosen = sorted(rng.sample(legacy, plan.unregistered_survey_rows))
    for number, index in enumerate(chosen):
        rows.values["survey_id"][index] = UNREGISTERED_SURVEY
        rows.values["response_id"][index] = f"R{LEGACY_RESPONSE_ID_BASE + number * 3 + 1:09d}"
        rows.values["channel"][index] = "email"
        rows.special[index] = 1
    new_branch = [
        index
        for index in range(len(rows))
        if rows.program[index] == "store" and rows.day[index] >= len(calendar.days) - 30
    ]
    for index in sorted(rng.sample(new_branch, plan.unregistered_branch_rows)):
        rows.values["branch_id"][index] = UNREGISTERED_BRANCH
        rows.special[index] = 1


def _pools(rows: _Rows, calendar: _Calendar) -> dict[str, list[int]]:
    pools: dict[str, list[int]] = {"backfill": [], "csv": [], "json": []}
    for index in range(len(rows)):
        if rows.day[index] < calendar.daily_from:
            pools["backfill"].append(index)
        elif rows.program[index] == "app":
            pools["json"].append(index)
        else:
            pools["csv"].append(index)
    return pools


def _draw(
    rng: random.Random,
    rows: _Rows,
    pool: list[int],
    accept: Callable[[int], bool] | None = None,
) -> int:
    """A random row of `pool` not used yet (and passing `accept`); marks it used."""
    for _ in range(100_000):
        index = pool[rng.randrange(len(pool))]
        if not rows.special[index] and (accept is None or accept(index)):
            rows.special[index] = 1
            return index
    raise RuntimeError("demo data generator: no row left to make dirty")


def _inject_defects(
    rng: random.Random,
    rows: _Rows,
    calendar: _Calendar,
    surveys: dict[str, dict[str, str]],
    plan: _Plan,
) -> dict[str, list[int]]:
    """Make the dirty rows, add duplicates and corrections; return each file's row order."""
    pools = _pools(rows, calendar)
    pool_names = ("backfill", "csv", "json")
    scales = {survey["survey_id"]: survey for survey in surveys.values()}
    original_scores: list[tuple[int, str]] = []  # (row, valid score) of score-less rows
    for number, reason in enumerate(QUARANTINE_REASONS):
        for k in range(plan.per_reason):
            index = _draw(rng, rows, pools[pool_names[(number + k) % 3]])
            if reason in ("missing_score", "score_not_integer"):
                original_scores.append((index, rows.values["score"][index] or ""))
            _make_dirty(rng, rows, index, reason, calendar, scales)
            rows.reason[index] = reason

    moments = [day * 86400 + seconds for day, seconds in zip(rows.day, rows.seconds, strict=True)]
    order: dict[str, list[int]] = {}
    for index in sorted(range(len(rows)), key=moments.__getitem__):
        order.setdefault(rows.file[index], []).append(index)
    series: dict[str, list[str]] = {}
    for path in sorted(order):
        if not path.startswith("nps/backfill/"):
            series.setdefault(_series_of(path), []).append(path)
    next_file = {
        path: paths[position + 1]
        for paths in series.values()
        for position, path in enumerate(paths[:-1])
    }
    placement = _Placement(order)

    for k in range(plan.duplicates_same_file):
        original = _draw(rng, rows, pools[pool_names[k % 3]])
        copy = rows.copy_row(original)
        if k % 4 == 3:  # re-exported with padding; still the same id once trimmed
            rows.values["response_id"][copy] = f"{rows.values['response_id'][copy]} "
        placement.after(rng, rows.file[original], original, copy)

    backfill_tail = [
        index
        for index in pools["backfill"]
        if rows.day[index] >= calendar.daily_from - 3 and rows.program[index] != "app"
    ]
    # the first daily export overlaps the backfill by a few days
    first_daily = {name: paths[0] for name, paths in series.items()}
    for k in range(plan.duplicates_later_file):
        if k % 3 == 0 and backfill_tail:
            original = _draw(rng, rows, backfill_tail, lambda i: rows.program[i] in first_daily)
            target = first_daily[rows.program[original]]
        else:
            pool = pools["csv"] if k % 3 == 1 else pools["json"]
            original = _draw(rng, rows, pool, lambda i: rows.file[i] in next_file)
            target = next_file[rows.file[original]]
        copy = rows.copy_row(original)
        rows.file[copy] = target
        placement.anywhere(rng, target, copy)

    for original, score in original_scores[: plan.corrections]:
        # the survey tool re-sent the response once the score was fixed: accepted, not a dup
        copy = rows.copy_row(original)
        rows.values["score"][copy] = score
        rows.reason[copy] = None
        placement.after(rng, rows.file[original], original, copy)
    return placement.apply()


class _Placement:
    """Copies to slot into files' row orders, applied in one pass per file."""

    def __init__(self, order: dict[str, list[int]]) -> None:
        self.order = order
        self.pending: dict[str, list[tuple[int, int]]] = {}  # path -> (rows before it, copy)
        self.positions: dict[str, dict[int, int]] = {}

    def after(self, rng: random.Random, path: str, original: int, copy: int) -> None:
        """Put `copy` somewhere after `original` in the same file."""
        positions = self.positions.get(path)
        if positions is None:
            positions = {row: i for i, row in enumerate(self.order[path])}
            self.positions[path] = positions
        slot = rng.randint(positions[original] + 1, len(self.order[path]))
        self.pending.setdefault(path, []).append((slot, copy))

    def anywhere(self, rng: random.Random, path: str, copy: int) -> None:
        slot = rng.randint(0, len(self.order[path]))
        self.pending.setdefault(path, []).append((slot, copy))

    def apply(self) -> dict[str, list[int]]:
        for path, items in self.pending.items():
            rows = self.order[path]
            merged: list[int] = []
            done = 0
            for slot, copy in sorted(items, key=lambda item: item[0]):
                merged.extend(rows[done:slot])
                merged.append(copy)
                done = slot
            merged.extend(rows[done:])
            self.order[path] = merged
        return self.order


def _series_of(path: str) -> str:
    if path.startswith("nps/app/"):
        return "app"
    return path.rsplit("/", 1)[1].split("_", 1)[0]


def _make_dirty(
    rng: random.Random,
    rows: _Rows,
    index: int,
    reason: str,
    calendar: _Calendar,
    surveys: dict[str, dict[str, str]],
) -> None:
    """Give row `index` exactly one defect, the one named by `reason`."""
    values = rows.values
    blank = rng.choice((None, "", "   "))
    day = calendar.days[rows.day[index]]
    hours, rest = divmod(rows.seconds[index], 3600)
    minutes = rest // 60
    clock = f"{hours:02d}:{minutes:02d}"
    if reason == "missing_response_id":
        values["response_id"][index] = blank
    elif reason == "missing_survey_id":
        values["survey_id"][index] = blank
    elif reason == "missing_submitted_at":
        values["submitted_at"][index] = blank
    elif reason == "unparseable_submitted_at":
        values["submitted_at"][index] = rng.choice(
            (
                f"{day.day:02d}/{day.month:02d}/{day.year}",
                f"{day.day:02d}/{day.month:02d}/{day.year} {hours:02d}:{minutes:02d}",
                f"{day.day:02d}.{day.month:02d}.{day.year} {hours:02d}:{minutes:02d}:00",
                "yesterday",
                f"{day.year}-02-30T{hours:02d}:{minutes:02d}:00",
                f"{day.day} {MONTH_ABBREVIATIONS[day.month - 1]} {day.year} {clock}",
            )
        )
    elif reason == "future_submitted_at":
        # a wrong device clock (a year or more ahead) or a typo in the year (ten years ahead)
        years = rng.choice((1, 1, 1, 10))
        future = calendar.end + timedelta(days=365 * years + 1 + rng.randrange(365))
        stamp = f"{future.isoformat()}T{clock}:{rng.randrange(60):02d}"
        values["submitted_at"][index] = stamp + rng.choice(("Z", "+01:00", ""))
    elif reason == "missing_score":
        values["score"][index] = blank
    elif reason == "score_not_integer":
        score = int(values["score"][index] or 0)
        values["score"][index] = rng.choice(
            (f"{score}.5" if score < 10 else "9.5", f"{min(score, 9)},5", "seven", "6.25")
        )
    elif reason == "score_out_of_scale":
        survey = surveys[values["survey_id"][index] or ""]
        low, high = int(survey["scale_min"]), int(survey["scale_max"])
        values["score"][index] = str(rng.choice((low - 1, high + 1, high + 2, high * 10)))
    else:  # pragma: no cover - reasons are fixed above
        raise ValueError(reason)


# --------------------------------------------------------------------------------------------
# Expected outcome (the contract's rules applied to what was generated)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    accepted: int
    duplicates: int
    quarantined: dict[str, int]
    unregistered_branches: list[str]
    unregistered_surveys: list[str]


def _expected_outcome(
    rows: _Rows,
    order: dict[str, list[int]],
    branches: list[dict[str, str]],
    surveys: dict[str, dict[str, str]],
) -> _Outcome:
    known_branches = {branch["branch_id"] for branch in branches}
    known_surveys = {survey["survey_id"] for survey in surveys.values()}
    quarantined = dict.fromkeys(QUARANTINE_REASONS, 0)
    accepted: set[str] = set()
    duplicates = 0
    odd_branches: set[str] = set()
    odd_surveys: set[str] = set()
    response_ids = rows.values["response_id"]
    for path in sorted(order):
        for index in order[path]:
            reason = rows.reason[index]
            if reason is not None:
                quarantined[reason] += 1
                continue
            response_id = (response_ids[index] or "").strip()
            if response_id in accepted:
                duplicates += 1
                continue
            accepted.add(response_id)
            branch = rows.values["branch_id"][index]
            survey = rows.values["survey_id"][index]
            if branch and branch.strip() not in known_branches:
                odd_branches.add(branch.strip())
            if survey and survey.strip() not in known_surveys:
                odd_surveys.add(survey.strip())
    return _Outcome(
        accepted=len(accepted),
        duplicates=duplicates,
        quarantined=quarantined,
        unregistered_branches=sorted(odd_branches),
        unregistered_surveys=sorted(odd_surveys),
    )


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _write_files(
    landing_dir: Path, rows: _Rows, order: dict[str, list[int]], calendar: _Calendar
) -> list[str]:
    written = []
    for path in sorted(order):
        target = landing_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        indices = order[path]
        if path.endswith(".parquet"):
            _write_parquet(target, rows, indices)
        elif path.endswith(".jsonl"):
            target.write_bytes(_jsonl_bytes(rows, indices))
        else:
            day = date.fromisoformat(path[-14:-4])
            exporter = path.rsplit("/", 1)[1].split("_", 1)[0]
            if exporter == "store":
                v2 = day >= calendar.days[calendar.store_v2_from]
                exporter = "store_v2" if v2 else "store_v1"
            target.write_bytes(_csv_bytes(rows, indices, exporter))
        written.append(path)
    return written


def _write_parquet(target: Path, rows: _Rows, indices: list[int]) -> None:
    table = pa.table(
        {
            name: pa.array([rows.values[name][i] for i in indices], type=pa.string())
            for name in CONTRACT_COLUMNS
        }
    )
    pq.write_table(table, target, compression="zstd")


def _csv_bytes(rows: _Rows, indices: list[int], exporter: str) -> bytes:
    if exporter == "store_v1":
        columns, header = CONTRACT_COLUMNS, [STORE_V1_HEADER[n] for n in CONTRACT_COLUMNS]
        delimiter, newline, bom, batch = ",", "\r\n", False, False
    elif exporter == "store_v2":
        columns, header = CONTRACT_COLUMNS, [STORE_V2_HEADER[n] for n in CONTRACT_COLUMNS]
        delimiter, newline, bom, batch = ",", "\n", True, False
    else:  # delivery
        columns, header = DELIVERY_ORDER, [DELIVERY_HEADER[n] for n in DELIVERY_ORDER]
        header.append("Export-Batch")
        delimiter, newline, bom, batch = ";", "\n", True, True
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    columns_values = [rows.values[name] for name in columns]
    for index in indices:
        record = [column[index] for column in columns_values]
        if batch:
            day = rows.file[index].rsplit("_", 1)[1][:10].replace("-", "")
            record.append(f"DLV-{day}-{1 if rows.seconds[index] < 13 * 3600 else 2:02d}")
        writer.writerow(record)
    data = buffer.getvalue().encode("utf-8")
    return b"\xef\xbb\xbf" + data if bom else data


def _jsonl_bytes(rows: _Rows, indices: list[int]) -> bytes:
    lines = []
    for index in indices:
        record: dict[str, str | None] = {}
        for name in CONTRACT_COLUMNS:
            value = rows.values[name][index]
            if value is not None or name in REQUIRED_COLUMNS:
                record[name] = value  # the app feed leaves out empty optional fields
        record["device"] = rows.device[index]
        lines.append(json.dumps(record, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _warn_about_foreign_files(landing_dir: Path, written: list[str]) -> None:
    expected = set(written)
    foreign = sorted(
        path.relative_to(landing_dir).as_posix()
        for path in (landing_dir / "nps").rglob("*")
        if path.is_file() and path.relative_to(landing_dir).as_posix() not in expected
    )
    if foreign:
        log.warning(
            "%d other file(s) under %s (e.g. %s) will also be loaded; the expected counts only "
            "cover the files just written",
            len(foreign),
            landing_dir / "nps",
            foreign[0],
        )
