"""The page tour: every page a role can reach, at phone, tablet and desktop size, checked for
what a person would see go wrong (issue 16).

It runs against what `make run` serves: a server of its own (`careway runserver`, the real
settings) on a fresh SQLite database holding the demo agencies and, when ../shared/data is
beside the repository, two imported Synthea patients (their MRNs are 36-character ids and their
medicines have long RxNorm names, which is what cut pages off before).

For each role it signs in once, follows every link it sees from the home page (a few of each
kind of page: the URL's name, and a chart's section, make the kind), and checks each page at
each size for:
- a page that scrolls sideways on the phone;
- an element past the right edge of the window, at any size;
- a box whose text is cut off or that scrolls sideways (a table that needs a sideways scroll on
  a tablet is a defect: the page must choose what to show at that width);
- a target smaller than 24 by 24 px whose 24 px circle touches another target (WCAG 2.2 SC 2.5.8;
  a link inside a sentence is excepted, as the criterion does);
- a primary action (a button, a submit, a `.button` link) under 44 px tall on the phone;
- an axe-core violation of WCAG 2.0, 2.1 or 2.2 A/AA (any impact), at phone and desktop size;
- a technical word a nurse should not see (`urn:`, a SNOMED CT tag such as "(disorder)",
  "FHIR import", raw JSON).

`python -m tests.browser.tour --screenshots docs/screenshots` builds the same server and saves
the screenshots the docs show; `--report` prints what the tour sees for every role.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

REPO = Path(__file__).resolve().parents[2]
SHARED_SYNTHEA = REPO.parent / "shared" / "data" / "synthea"
# Two Synthea patients with many conditions and long medication names.
SYNTHEA_PATIENTS = (
    "Ali_Herman_75c71918-f07f-4492-af1a-ce006a1e8aaf.json",
    "Joseph_Goodwin_1d572d5f-8403-44f2-8b5f-b25e841e568c.json",
)
AGENCY = "riverbend-demo"
BRANCH = "Riverbend branch"
PASSWORD = "careway-demo-2026"
# Where the tests leave what the tour saw, printed at the end of the run (tests/conftest.py).
REPORTS = REPO / "var" / "tour"

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 1024, "height": 1366}
DESKTOP = {"width": 1440, "height": 900}
SIZES = {"phone": PHONE, "tablet": TABLET, "desktop": DESKTOP}


@dataclass(frozen=True)
class Role:
    key: str
    username: str
    totp_secret: str | None = None
    # A clinician off the patient's team, who reaches one chart through emergency access.
    emergency: bool = False
    # How many charts the tour sees whole: the demo patient with assessments signed, amended
    # and in progress, then an imported patient (36-character MRN, long RxNorm names).
    charts: int = 2


ROLES = {
    role.key: role
    for role in (
        Role("case_manager", "cm.rivera"),
        # The same chart pages as the case manager's, with a supervisor's actions: one chart.
        Role("supervisor", "sup.sato", "MNQXEZLXMF4S2ZDFNVXS24TCFVZXK4DF", charts=1),
        Role("admin", "admin.okoro", "MNQXEZLXMF4S2ZDFNVXS24TCFVQWI3LJ"),
        Role("auditor", "aud.adams", "MNQXEZLXMF4S2ZDFNVXS24TCFVQXKZDJ"),
        # The chart opened through emergency access, whole (its pages come first), and the
        # demo patient's chart page.
        Role("clinician_emergency", "ot.haddad", emergency=True, charts=1),
    )
}

# Links the tour never follows: they end the session, or answer with a file, not a page.
NOT_FOLLOWED = {
    "logout",
    "sign_out_everywhere",
    "audit_export",
    "fhir_export_file",
    "careplans:patient_version_pdf",
    "careplans:plan_of_care_pdf",
}
# How many pages of one kind the tour checks per role: the first it finds, besides the pages
# it starts from (the charts below, the chart opened through emergency access); as many of each
# page of a chart as the role has charts to see whole (Role.charts).
PER_KIND = 1
MAX_PAGES = 200

TECHNICAL_WORDS = (
    (re.compile(r"\burn:"), "urn:"),
    (
        re.compile(r"\((disorder|finding|procedure|situation|substance|qualifier value)\)"),
        "a SNOMED CT tag",
    ),
    (re.compile(r"FHIR import"), "FHIR import"),
    (re.compile(r"\{\s*\"[^\"]+\"\s*:"), "raw JSON"),
)

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

# One evaluation in the page returns every layout and target problem it can see.
CHECKS_JS = "\n".join(
    line
    for line in (Path(__file__).parent / "tour_checks.js").read_text().splitlines()
    if not line.startswith("//")
)


@dataclass
class Seen:
    """What the tour saw for one role: the pages it checked and every problem, by page."""

    role: str
    pages: dict[str, str] = field(default_factory=dict)  # url -> kind
    problems: dict[str, list[str]] = field(default_factory=dict)  # "size url" -> problems
    timings: list[float] = field(default_factory=list)

    def add(self, size: str, url: str, found: list[str]) -> None:
        if found:
            self.problems.setdefault(f"{size} {url}", []).extend(found)

    def report(self) -> str:
        kinds = sorted(set(self.pages.values()))
        slowest = f"; slowest page {max(self.timings):.2f} s" if self.timings else ""
        lines = [
            f"{self.role}: {len(self.pages)} pages ({len(kinds)} kinds) at "
            f"{', '.join(SIZES)}; {sum(map(len, self.problems.values()))} problems{slowest}",
            "  kinds: " + ", ".join(kinds),
        ]
        for where, found in sorted(self.problems.items()):
            lines.append(f"  {where}")
            lines.extend(f"    - {problem}" for problem in dict.fromkeys(found))
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The server: what `make run` serves, on a database of its own.


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _careway(env: dict[str, str], *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "careway", *args],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        **kwargs,
    )


def server_env(data_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "CAREWAY_ENV", "DEBUG"}
        and not key.startswith("PYTEST")
    }
    env.update(
        CAREWAY_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="careway.settings",
        PYTHONPATH=str(REPO),
    )
    return env


SITE_FACTS = """
import json
from careway.core.models import User
from careway.patients.models import CareTeamMember, Patient
org_patients = Patient.objects.filter(organization__slug={agency!r}).order_by("pk")
clinician = User.objects.get(username={clinician!r})
team = CareTeamMember.objects.filter(user=clinician, active=True)
on_team = set(team.values_list("patient_id", flat=True))
stranger = next(p for p in org_patients if p.pk not in on_team)
imported = [str(p.pk) for p in org_patients if len(p.mrn) > 20]
from django.db.models import Count
from careway.assessments.models import Assessment
cm = User.objects.get(username={case_manager!r})
mine = CareTeamMember.objects.filter(user=cm, active=True).values("patient_id")
assessed = (
    Assessment.objects.filter(patient_id__in=mine).values("patient_id")
    .annotate(n=Count("pk")).order_by("-n").first()
)
print(json.dumps({{"emergency_patient": str(stranger.pk), "emergency_mrn": stranger.mrn,
                  "emergency_family": stranger.family_name,
                  "emergency_birth_date": stranger.birth_date.isoformat(),
                  "imported": imported,
                  "assessed": str(assessed["patient_id"]) if assessed else None,
                  "assessment": str(
                      Assessment.objects.filter(patient_id=assessed["patient_id"])
                      .order_by("-signed_at").values_list("pk", flat=True).first()
                  ) if assessed else None}}))
"""


def build_demo(data_dir: Path) -> dict:
    """Migrate, load the demo (and two Synthea patients when ../shared/data is there) into
    `data_dir` as `make run` does; returns the facts about the data (also kept in facts.json)."""
    env = server_env(data_dir)
    _careway(env, "migrate", "--no-input")
    _careway(env, "demo")
    if SHARED_SYNTHEA.exists():
        files = [str(SHARED_SYNTHEA / name) for name in SYNTHEA_PATIENTS]
        _careway(
            env, "import-fhir", *files, "--agency", AGENCY, "--branch", BRANCH, "--as", "cm.rivera"
        )
    facts = json.loads(
        _careway(
            env,
            "shell",
            "-c",
            SITE_FACTS.format(
                agency=AGENCY,
                clinician=ROLES["clinician_emergency"].username,
                case_manager=ROLES["case_manager"].username,
            ),
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    (data_dir / "facts.json").write_text(json.dumps(facts))
    return facts


@contextmanager
def serve(data_dir: Path) -> Iterator[str]:
    """Serve the data in `data_dir` with the development server, as `make run` does; yields
    the base URL."""
    env = server_env(data_dir)
    port = _free_port()
    # The server logs every request: to a file, since a pipe nobody reads fills and stops it.
    log = (data_dir / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "careway", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)  # noqa: S310 - http only
                break
            except OSError as error:
                if server.poll() is not None or time.monotonic() > deadline:
                    said = (data_dir / "server.log").read_text()
                    raise RuntimeError(f"the tour's server did not start: {said}") from error
                time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@contextmanager
def demo_server(data_dir: Path | None = None) -> Iterator[tuple[str, dict]]:
    """Build the demo (build_demo) and serve it (serve); yields (base URL, facts)."""
    own_dir = data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="careway-tour-")) if data_dir is None else data_dir
    try:
        facts = build_demo(data_dir)
        with serve(data_dir) as base:
            yield base, facts
    finally:
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# The browser side.


def sign_in(page, base: str, role: Role) -> None:
    import pyotp

    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(role.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if role.totp_secret:
        page.wait_for_url("**/accounts/two-factor/**")
        totp = pyotp.TOTP(role.totp_secret)
        # A code is taken once: `careway demo` used this step's code to enrol the person, so a
        # sign-in in the same 30 seconds waits for the next code, as a person would.
        for attempt in range(2):
            page.get_by_label("Code").fill(totp.now())
            page.get_by_role("button", name=re.compile("sign in", re.I)).click()
            page.wait_for_load_state("load")
            if "/two-factor/" not in page.url or attempt:
                break
            time.sleep(totp.interval - time.time() % totp.interval + 1)
    page.wait_for_url(lambda url: "/accounts/" not in url)


def open_emergency_access(page, base: str, facts: dict) -> str:
    """Ask for emergency access to a patient off the clinician's team, as the page asks; returns
    the chart's URL."""
    page.goto(f"{base}/emergency-access/")
    form = page.locator("main form").first
    # By family name and date of birth, as a clinician in a hurry asks (the MRN is a long id).
    form.get_by_label("Family name").fill(facts["emergency_family"])
    form.get_by_label("Date of birth").fill(facts["emergency_birth_date"])
    form.get_by_label(re.compile("reason", re.I)).first.fill(
        "Patient called the after-hours line short of breath; case manager unreachable."
    )
    form.locator("button[type=submit], input[type=submit]").first.click()
    page.wait_for_load_state("load")
    chart = f"{base}/patients/{facts['emergency_patient']}/"
    if not page.url.startswith(chart):
        raise AssertionError(f"emergency access did not open the chart: at {page.url}")
    return chart


def kind_of(path: str) -> str | None:
    """The URL's name (a chart section's name includes the section), or None when it is not a
    page of Careway's."""
    from django.urls import Resolver404, resolve

    try:
        match = resolve(path)
    except Resolver404:
        return None
    if match.namespace in {"api"} or match.url_name is None:
        return None
    section = match.kwargs.get("section")
    # Namespaced as the inventory names it ("careplans:goal"); a section after a "/".
    return f"{match.view_name}/{section}" if section else match.view_name


def settle(page) -> None:
    """Pages are drawn whole by the server (no section loads after them); wait for the fonts,
    which change how wide text is."""
    page.evaluate("() => document.fonts.ready.then(() => true)")


def check_page(page, phone: bool, axe: bool = True) -> list[str]:
    problems = list(page.evaluate(CHECKS_JS, {"phone": phone}))
    text = page.evaluate("() => document.body.innerText")
    for pattern, label in TECHNICAL_WORDS:
        if match := pattern.search(text):
            start = max(match.start() - 30, 0)
            snippet = text[start : match.end() + 30].replace("\n", " ")
            problems.append(f"technical words ({label}): …{snippet}…")
    if axe:
        from axe_playwright_python.sync_playwright import Axe

        results = (
            Axe().run(page, options={"runOnly": AXE_TAGS, "resultTypes": ["violations"]}).response
        )
        for violation in results["violations"]:
            targets = [node["target"] for node in violation["nodes"]][:3]
            problems.append(
                f"axe {violation['id']} ({violation['impact']}): {violation['help']} {targets}"
            )
    return problems


def links_on(page, base: str) -> list[str]:
    hrefs = page.evaluate("() => [...document.querySelectorAll('a[href]')].map((a) => a.href)")
    found = []
    for href in hrefs:
        url, _ = urldefrag(href)
        if url.startswith(base):
            found.append(url)
    return found


def tour(browser, base: str, facts: dict, role: Role, sizes=SIZES, axe: bool = True) -> Seen:
    """Sign `role` in, find its pages from the home page at desktop size, then check each at
    every size."""
    seen = Seen(role.key)
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        sign_in(page, base, role)
        start = [page.url]
        if role.emergency:
            start.insert(0, open_emergency_access(page, base, facts))
        charts = [facts.get("assessed"), *facts.get("imported", [])[:1]][: role.charts]
        start += [f"{base}/patients/{pk}/" for pk in charts if pk]
        urls = discover(page, base, start, seen, per_chart_kind=role.charts)
        for size, viewport in sizes.items():
            page.set_viewport_size(viewport)
            for url in urls:
                began = time.perf_counter()
                response = page.goto(url)
                settle(page)
                seen.timings.append(time.perf_counter() - began)
                if response is None or response.status >= 400:
                    seen.add(size, url, [f"answered {response.status if response else 'nothing'}"])
                    continue
                # axe at the two ends (its rules read the page, not its width, except a few
                # the layout checks cover at every size); the tablet lies between.
                with_axe = axe and size != "tablet"
                seen.add(size, url, check_page(page, phone=size == "phone", axe=with_axe))
    finally:
        context.close()
    return seen


def discover(page, base: str, start: list[str], seen: Seen, *, per_chart_kind: int) -> list[str]:
    """Breadth first from the start pages, following links to pages of Careway, at most
    PER_KIND of each kind (`per_chart_kind` of a chart's); returns the URLs in the order found."""
    queue = list(dict.fromkeys(start))
    per_kind: dict[str, int] = {}
    found: list[str] = []
    looked: set[str] = set()
    while queue and len(found) < MAX_PAGES:
        url = queue.pop(0)
        if url in looked:
            continue
        looked.add(url)
        kind = kind_of(urlsplit(url).path)
        if kind is None or kind.split("/")[0] in NOT_FOLLOWED:
            continue
        limit = per_chart_kind if urlsplit(url).path.startswith("/patients/") else PER_KIND
        if per_kind.get(kind, 0) >= limit and url not in start:
            continue
        response = page.goto(url)
        if response is None or response.status != 200:
            continue
        if "text/html" not in (response.headers.get("content-type") or ""):
            continue
        # A redirect (the home page to the role's first page) lands on another kind of page.
        final = page.url
        kind = kind_of(urlsplit(final).path) or kind
        looked.add(final)
        if final in seen.pages:
            continue
        per_kind[kind] = per_kind.get(kind, 0) + 1
        found.append(final)
        seen.pages[final] = kind
        queue.extend(link for link in links_on(page, base) if link not in looked)
    return found


# ---------------------------------------------------------------------------------------------
# Screenshots for docs/screenshots and a printed report, from the command line.

SCREENSHOT_PAGES = (
    # (file name, role, the page's path from the facts about the demo)
    ("today", "case_manager", lambda f: "/today/"),
    ("caseload", "case_manager", lambda f: "/patients/"),
    ("chart", "case_manager", lambda f: f"/patients/{f['assessed']}/"),
    (
        "chart-medications",
        "case_manager",
        lambda f: f"/patients/{f['imported'][0]}/medications/" if f["imported"] else "",
    ),
    (
        "assessment",
        "case_manager",
        lambda f: f"/patients/{f['assessed']}/assessments/{f['assessment']}/",
    ),
    ("caseload-supervisor", "supervisor", lambda f: "/patients/"),
    ("emergency-access", "clinician_emergency", lambda f: "/emergency-access/"),
    ("emergency-chart", "clinician_emergency", None),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--screenshots", type=Path, help="folder for the docs' screenshots")
    parser.add_argument("--report", action="store_true", help="tour every role, print what it saw")
    parser.add_argument("--roles", nargs="*", default=list(ROLES))
    parser.add_argument("--no-axe", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careway.settings")
    import django

    django.setup()
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_ARGS, chromium_path

    with demo_server() as (base, facts), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        if args.report:
            for key in args.roles:
                seen = tour(browser, base, facts, ROLES[key], axe=not args.no_axe)
                print(seen.report(), flush=True)
        if args.screenshots:
            save_screenshots(browser, base, facts, args.screenshots)
        browser.close()
    return 0


def save_screenshots(browser, base: str, facts: dict, folder: Path) -> None:
    """Each page of SCREENSHOT_PAGES at each size, as its role sees it (the emergency chart
    after asking for access by name and birth date, as the page asks)."""
    folder.mkdir(parents=True, exist_ok=True)
    pages = {}
    for name, role_key, where in SCREENSHOT_PAGES:
        if role_key not in pages:
            context = browser.new_context(viewport=DESKTOP)
            pages[role_key] = context.new_page()
            sign_in(pages[role_key], base, ROLES[role_key])
        page = pages[role_key]
        path = "" if where is None else where(facts)
        if where is not None and not path:
            continue  # an imported patient's page, without ../shared/data to import from
        url = open_emergency_access(page, base, facts) if where is None else base + path
        for size, viewport in SIZES.items():
            page.set_viewport_size(viewport)
            page.goto(url)
            settle(page)
            path = folder / f"{name}-{size}.png"
            page.screenshot(path=str(path), full_page=True)
            _shrink(path)
    for page in pages.values():
        page.context.close()


def _shrink(path: Path) -> None:
    """128 colours are plenty for a page of text: a third of the bytes in the repository."""
    from PIL import Image  # Pillow is in requirements.lock

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


if __name__ == "__main__":
    sys.exit(main())
