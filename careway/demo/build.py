"""`careway demo`: build the two demo agencies once, then only show how to sign in.

Each agency is built in one transaction, so a failure leaves nothing half built, and an agency
that already exists is left exactly as it is.
"""

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from careway.core.roles import Role
from careway.patients import evidence

from . import careplans, content
from .charts import ChartBuilder
from .staff import DemoAgency, create_agency, demo_actor, load_agency

ROLE_LABELS = dict(Role.choices)


@dataclass(frozen=True)
class SignInRow:
    agency: str
    username: str
    name: str
    role: str
    totp_secret: str


def build_demo(today: date | None = None) -> list[tuple[DemoAgency, bool]]:
    """Every demo agency, and whether this call created it. `today` defaults to each agency's
    own day (in its time zone: at 00:30 UTC it is still yesterday in Vermont)."""
    return [
        _ensure_agency(spec, today or timezone.localdate(timezone=ZoneInfo(spec["timezone"])))
        for spec in content.agencies()
    ]


def _ensure_agency(spec: dict, today: date) -> tuple[DemoAgency, bool]:
    existing = load_agency(spec)
    if existing is not None:
        return existing, False
    with transaction.atomic():
        agency = create_agency(spec)
        actor = demo_actor(agency.organization)
        for number, person in enumerate(content.people(spec["slug"])):
            chart = ChartBuilder(agency, actor, person, number, today)
            # the goals and suggestions follow the whole chart once, not after every reading
            with evidence.held():
                patient = chart.build()
            careplans.add_care_plan(chart, patient)
    return agency, True


def sign_in_rows() -> list[SignInRow]:
    return [
        SignInRow(
            agency=spec["name"],
            username=person["username"],
            name=f"{person['first_name']} {person['last_name']}",
            role=_role_label(person),
            totp_secret=person.get("totp_secret", ""),
        )
        for spec in content.agencies()
        for person in spec["staff"]
    ]


def _role_label(person: dict) -> str:
    label = str(ROLE_LABELS[person["role"]])
    return f"{label} ({person['discipline']})" if person["discipline"] else label


def sign_in_table() -> str:
    """The plain-text table the command prints."""
    rows = sign_in_rows()
    headers = ("Agency", "Username", "Name", "Role", "TOTP secret (2FA)")
    cells = [(r.agency, r.username, r.name, r.role, r.totp_secret or "-") for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = [_row(headers, widths), _row(tuple("-" * w for w in widths), widths)]
    lines += [_row(c, widths) for c in cells]
    return "\n".join(lines)


def _row(cells: tuple[str, ...], widths: list[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def sign_in_markdown() -> str:
    """docs/demo-users.md, generated from content/agencies.json (a test keeps them equal)."""
    password = content.demo_password()
    lines = [
        "# Demo users",
        "",
        "`careway demo` builds two made-up agencies, each with one branch, one person for every",
        "role and twelve patients. Every demo user signs in with the same password:",
        "",
        f"    {password}",
        "",
        "Agency admins, supervisors and auditors must use two-factor sign-in. Their authenticator",
        "secrets are fixed and published here so that you can add them to an authenticator app",
        '(choose "enter a setup key", time-based, 6 digits, 30 seconds). They are for the demo',
        "only: never use them, or the demo password, for real people.",
        "",
        "Case managers see the patients on their care teams; the supervisor sees every patient",
        "of the branch; the scheduler can read but not change charts; the agency admin manages",
        "people but does not read charts; the auditor reads the audit trail.",
        "",
        "The patients' care plans are at every stage: a few patients are too new to have one,",
        "some plans are drafts, most are in effect (goals getting better and worse as the",
        "weights, blood pressures and pain scores on the chart say, some plans past their review",
        "date, family caregivers on the team with their own interventions) and the discharged",
        "patients' plans are completed. `cm.rivera`'s caseload has some of each.",
        "",
        "| Agency | Username | Name | Role | TOTP secret |",
        "|---|---|---|---|---|",
    ]
    for r in sign_in_rows():
        secret = f"`{r.totp_secret}`" if r.totp_secret else "-"
        lines.append(f"| {r.agency} | `{r.username}` | {r.name} | {r.role} | {secret} |")
    lines += [
        "",
        "Re-running `careway demo` changes nothing and prints this table again.",
        "",
        "## A large agency for benchmarks",
        "",
        "`careway demo --patients 100000` loads one more made-up agency, Lakeshore Home Health",
        "(benchmark), in bulk (PostgreSQL COPY; bulk_create on SQLite): four branches, a case",
        "manager for every 60 patients, and for each patient an episode, a care team, contacts,",
        "coverage, 2 to 4 conditions, 3 to 8 medications, 50 vital sign readings and a care plan",
        "(3 to 6 goals with their statuses worked out from the readings, 5 to 10 interventions,",
        "two or three visiting disciplines with their frequencies, one revision), with one audit",
        "event per patient and per plan created. It shows progress as it goes and runs ANALYZE at",
        "the end on PostgreSQL. Its users are named like `bench.casemanagerrn.123` and use the",
        "same demo password; none has two-factor sign-in set up. Use a database of its own:",
        "running it again when the agency exists loads nothing.",
        "",
    ]
    return "\n".join(lines)
