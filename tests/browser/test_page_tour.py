"""Every page, as every role that may see it, at phone, tablet and desktop size (issue 16).

The tour (tests/browser/tour.py) serves the demo the way `make run` does and checks each page
for what a person would see go wrong: sideways scrolling, anything cut off or past the window's
edge, targets too small or too close (WCAG 2.2 SC 2.5.8), primary actions under 44 px on a phone,
axe violations and technical words. What it saw is printed at the end of the run.

It runs once per CI run, on SQLite: the PostgreSQL pass skips it (the pages are the same; see
`database_independent` in tests/conftest.py).
"""

import fcntl
import json
import os
import shutil

import pytest

from tests.test_url_inventory import PATIENT_PAGES, PUBLIC, SIGNED_IN_PAGES

from . import tour
from .conftest import chromium_path

pytestmark = [pytest.mark.browser, pytest.mark.database_independent]

# The pages each role must reach by following links from its home page.
MUST_SEE = {
    "case_manager": {
        "today",
        "caseload",
        "chart",
        "chart_section",
        "patient_edit",
        "contact_create",
        "condition_create",
        "medication_create",
        "allergy_create",
        "vitals_create",
        "careteam_add",
        "careteam_remove",
        "coverage_create",
        "condition_edit",
        "condition_status",
        "medication_edit",
        "medication_status",
        "allergy_edit",
        "allergy_status",
        "flag_resolve",
        "vital_alert_thresholds",
        "assessment",
        "assessment_section",
        "assessment_amend",
        "break_glass",
        "notifications",
        "account",
        "password_change",
        "import_list",
        "import_detail",
        "careplans:goal",
        "careplans:revisions",
        "careplans:compare",
        "careplans:plan_edit",
        "careplans:plan_status",
        "careplans:problem_add",
        "careplans:problem_edit",
        "careplans:goal_add",
        "careplans:goal_edit",
        "careplans:intervention_add",
        "careplans:intervention_edit",
        "careplans:frequency_add",
        "careplans:frequency_edit",
        "careplans:suggestions",
        "careplans:suggestion_accept",
        "careplans:suggestion_reject",
        "careplans:plan_of_care_list",
        "careplans:verbal_order_add",
        "careplans:orders_awaiting",
        "careplans:teaching_add",
        "careplans:teaching_error",
        "careplans:agreement_add",
        "careplans:patient_version",
        "careplans:plan_of_care_edit",
    },
    "supervisor": {
        "caseload",
        "chart",
        "chart_section",
        "patient_create",
        "vital_alert_thresholds",
        "instrument_list",
        "instrument_bands",
    },
    "admin": {
        "user_list",
        "user_create",
        "user_detail",
        "account",
        "careplans:template_list",
        "careplans:template_detail",
        "careplans:template_new",
        "agency_details",
        "careplans:handout_list",
        "careplans:handout_detail",
        "careplans:handout_new",
    },
    "auditor": {"audit_log", "account", "two_factor_setup"},
    "clinician_emergency": {"chart", "chart_section", "break_glass"},
}

# Inventory pages the tour does not open, and why.
NOT_TOURED = {
    "login": "the page before signing in: checked by test_sign_in_page",
    "two_factor_verify": "a step of signing in, which the tour takes for each role with TOTP",
    "healthz": "not a page: the load balancer's check",
    "home": "sends each role to its first page (Today, People, audit log): the tour starts there",
    "logout": "a POST that ends the session",
    "sign_out_everywhere": "a POST that ends every session",
    "user_role_add": "a POST from the person's page",
    "user_role_remove": "a POST from the person's page",
    "user_action": "a POST from the person's page",
    "notifications_mark_read": "a POST from the notifications page",
    "session_keepalive": "the idle clock's JSON, asked by every signed-in page",
    "flag_acknowledge": "a one-tap POST from Today and the chart (resolving opens its page)",
    "task_complete": "the same note page as resolving a flag; the demo raises no task",
    "audit_export": "a CSV download, not a page",
    "careplans:patient_version_pdf": "a PDF download, not a page (its page is toured)",
    "import_progress": "a fragment polled into the import page",
    "assessment_start": "a POST from the chart's assessments",
    "assessment_sign": "a POST from the assessment",
    "contact_edit": "the same form as contact_create, filled",
    "example_note_create": "the tests' example domain, not served by `make run`",
    "careplans:start": "a POST from the chart's care plan section of a patient without a plan",
    "careplans:intervention_task": "a POST from an intervention on the plan",
    "careplans:frequency_words": "a fragment the frequency field asks for as the notation is typed",
    "careplans:review": "a POST from the plan's head when its review is due",
    "careplans:template_copy": "a POST from a shipped template's page (Copy to edit)",
    "careplans:template_retire": "a POST from the page of an agency's own template",
    "careplans:template_restore": "a POST from the page of an agency's retired template",
    "careplans:template_edit": "the same editor as template_new; the demo has no agency template",
    "careplans:plan_of_care_pdf": "a PDF download, not a page",
    "careplans:plan_of_care_send": "a POST from the plans of care page",
    "careplans:plan_of_care_sign": "a POST from the plans of care page",
    "careplans:verbal_order_send": "a POST from the plans of care page",
    "careplans:verbal_order_sign": "a POST from the plans of care page",
    "careplans:handout_copy": "a POST from a shipped handout's page (Copy to edit)",
    "careplans:handout_retire": "a POST from the page of an agency's own handout",
    "careplans:handout_restore": "a POST from the page of an agency's retired handout",
    "careplans:handout_edit": "the same editor as handout_new; the demo has no agency handout",
}


def test_the_tour_covers_every_page_of_the_inventory():
    pages = PUBLIC | PATIENT_PAGES | SIGNED_IN_PAGES
    toured = set().union(*MUST_SEE.values())
    assert pages - toured - set(NOT_TOURED) == set()
    assert set(NOT_TOURED) - pages == set(), "NOT_TOURED names a page that no longer exists"


@pytest.fixture(scope="session")
def tour_site(tmp_path_factory, worker_id):
    """The demo, built once per run (the first xdist worker to need it builds it under a lock;
    the others wait and take a copy), served by each worker from its own copy."""
    if chromium_path() is None and os.environ.get("CI") != "true":
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    if not tour.SHARED_SYNTHEA.exists() and os.environ.get("CI") == "true":
        pytest.fail(f"{tour.SHARED_SYNTHEA} is absent, and CI=true tours imported patients too")
    root = tmp_path_factory.getbasetemp()
    shared = root if worker_id == "master" else root.parent  # one folder for the whole run
    built = shared / "tour-demo"
    with (shared / "tour-demo.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (built / "facts.json").exists():
            building = shared / "tour-demo-building"
            shutil.rmtree(building, ignore_errors=True)
            building.mkdir()
            tour.build_demo(building)
            building.rename(built)
    mine = tmp_path_factory.mktemp("tour-site")
    shutil.copytree(built, mine, dirs_exist_ok=True)
    facts = json.loads((mine / "facts.json").read_text())
    with tour.serve(mine) as base:
        yield base, facts


def _write_report(seen: tour.Seen) -> None:
    tour.REPORTS.mkdir(parents=True, exist_ok=True)
    (tour.REPORTS / f"{seen.role}.txt").write_text(seen.report() + "\n")


@pytest.mark.parametrize("role", sorted(tour.ROLES))
def test_every_page_holds_at_every_size(browser, tour_site, role):
    base, facts = tour_site
    seen = tour.tour(browser, base, facts, tour.ROLES[role])
    _write_report(seen)
    kinds = {kind.split("/")[0] for kind in seen.pages.values()}
    must_see = set(MUST_SEE[role])
    if not facts["imported"]:
        # Without ../shared/data (a user's machine) nothing was imported: no import report.
        must_see.discard("import_detail")
    assert must_see - kinds == set(), f"{role} did not reach these pages\n{seen.report()}"
    assert not seen.problems, seen.report()


def test_sign_in_page(browser, tour_site):
    base, _ = tour_site
    seen = tour.Seen("signed_out")
    context = browser.new_context()
    try:
        page = context.new_page()
        for size, viewport in tour.SIZES.items():
            page.set_viewport_size(viewport)
            page.goto(f"{base}/accounts/login/")
            seen.pages[page.url] = "login"
            seen.add(size, page.url, tour.check_page(page, phone=size == "phone"))
    finally:
        context.close()
    _write_report(seen)
    assert not seen.problems, seen.report()
