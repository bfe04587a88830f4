"""The caseload fits a phone, a tablet and a desktop without a sideways scroll, however many
domains add columns: at narrow widths the columns of priority 2 and 3 are stacked under the
patient's name, and every cell still shows once (careway/patients/frame.py). Nothing clinical is
cut off (long imported MRNs, many long flags, a supervisor's extra columns), and on a phone,
where the header is hidden, a select sorts the list."""

import uuid

import pytest
from playwright.sync_api import expect

from careway.core import audit
from careway.patients import services
from tests.factories import build_world, make_patient

from .conftest import (
    PHONE,
    assert_accessible,
    enrol_two_factor,
    fill_chart,
    screenshot,
    sign_in,
)

# How the pages look: the same on any database (tests/conftest.py).
pytestmark = [pytest.mark.browser, pytest.mark.database_independent]

TABLET = {"width": 1024, "height": 1366}
DESKTOP = {"width": 1440, "height": 900}
SIZES = {"phone": PHONE, "tablet": TABLET, "desktop": DESKTOP}
# (viewport width, the stacked priorities at that width)
WIDTHS = (
    (700, {2, 3}), (768, {2, 3}), (1024, {2, 3}), (1100, {3}), (1279, {3}),
    (1280, set()), (1440, set()),
)  # fmt: skip
LONG_FLAGS = (
    ("urgent", "High fall risk: right leg weakness since the fall at home, uses a walker"),
    ("urgent", "Weight up 5 lb in a week with swollen ankles: call the cardiologist today"),
    ("warning", "Malnutrition Screening Tool: at risk of malnutrition (score 3)"),
    ("warning", "Lives alone; daughter visits on weekends only"),
    ("info", "On warfarin: weekly INR"),
)


def flag(patient, severity: str, label: str) -> None:
    data = {"kind": label[:12], "label": label, "severity": severity, "source": "test"}
    services.raise_flag(audit.Actor(user=None), patient, data)


@pytest.fixture
def busy_world():
    """cm's caseload: Hale with a full chart and many long flags, and patients imported from
    another system whose MRNs are 36-character ids (one with no hyphen to break at)."""
    world = build_world()
    fill_chart(world.patient)
    for severity, label in LONG_FLAGS:
        flag(world.patient, severity, label)
    imported = [
        ("Luis Miguel", "Delarosa-Montgomery", str(uuid.uuid4())),
        ("Gayla", "Ferry", str(uuid.uuid4())),
        ("Margery", "Gibson", uuid.uuid4().hex + "abcd"),
    ]
    for given, family, mrn in imported:
        patient = make_patient(
            world.branch, world.cm, given_name=given, family_name=family, mrn=mrn
        )
        for severity, label in LONG_FLAGS[:3]:
            flag(patient, severity, label)
    world.extra["long_mrn"] = imported[2][2]
    return world


# What is wrong with the page as it stands: sideways scroll, anything past either edge of the
# viewport, and any box whose content is wider than the box (a clipped or scrolling cell).
LAYOUT_PROBLEMS = """() => {
  const root = document.documentElement, edge = root.clientWidth, found = [];
  const name = e => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')} `
    + `"${e.textContent.trim().replace(/\\s+/g, ' ').slice(0, 50)}"`;
  if (root.scrollWidth > edge) found.push(`the page scrolls sideways: ${root.scrollWidth}`);
  for (const e of document.querySelectorAll('body *')) {
    if (e.closest('.visually-hidden, .skip-link, script, option')) continue;
    const box = e.getBoundingClientRect();
    if (!box.width || !box.height) continue;
    if (box.right > edge + 0.5 || box.left < -0.5) found.push(`past the edge: ${name(e)}`);
    const style = getComputedStyle(e);
    if (style.display !== 'inline' && e.clientWidth && e.scrollWidth > e.clientWidth + 1)
      found.push(`cut off (${e.scrollWidth} > ${e.clientWidth}): ${name(e)}`);
  }
  return found;
}"""


def assert_fits(page, label: str) -> None:
    problems = page.evaluate(LAYOUT_PROBLEMS)
    assert not problems, f"{label}: " + "; ".join(problems[:8])


def visible_text(page) -> str:
    return page.locator("table.caseload tbody").inner_text()


def check_every_size(page, who: str) -> None:
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        page.reload()
        expect(page.get_by_role("link", name="Hale, Margaret")).to_be_visible()
        screenshot(page, f"caseload-{who}-{size}")
        assert_fits(page, f"{who} at {size}")
        assert_accessible(page, f"{who} at {size}")
        text = visible_text(page)
        for _, label in LONG_FLAGS[:3]:
            assert label in text, (size, label)  # the three most severe, every word of them
        assert "+2 more" in text


def test_a_case_manager_with_long_flags_and_imported_mrns_sees_everything(
    live_server, new_page, busy_world
):
    page = new_page(TABLET)
    sign_in(page, live_server.url, busy_world.cm)
    page.goto(f"{live_server.url}/patients/")
    check_every_size(page, "case-manager")
    # The long MRN is all there, wrapped inside the name column rather than widening it.
    page.set_viewport_size(TABLET)
    page.reload()
    mrn = page.locator("table.caseload .mrn", has_text=busy_world.extra["long_mrn"])
    expect(mrn).to_be_visible()
    name_cell = page.locator("table.caseload tbody th").first.bounding_box()
    assert name_cell["width"] < 300


def test_a_supervisor_sees_case_managers_and_branches_with_nothing_cut_off(
    live_server, new_page, busy_world
):
    secret = enrol_two_factor(busy_world.supervisor)
    page = new_page(TABLET)
    sign_in(page, live_server.url, busy_world.supervisor, secret)
    page.goto(f"{live_server.url}/patients/")
    expect(page.get_by_role("heading", name="Caseload by case manager")).to_be_visible()
    check_every_size(page, "supervisor")
    page.set_viewport_size(DESKTOP)
    page.reload()
    for title in ("Case manager", "Branch", "Flags", "Assessment due"):
        expect(page.locator("table.caseload thead th", has_text=title)).to_be_visible()
    # On a tablet the case manager and branch are under the name, not past the edge.
    page.set_viewport_size(TABLET)
    page.reload()
    row = page.locator("table.caseload tbody tr", has_text="Hale, Margaret")
    expect(row.locator(".stacked-cells", has_text="Case manager")).to_be_visible()
    expect(row.locator(".stacked-cells", has_text=busy_world.branch.name)).to_be_visible()
    expect(page.locator("table.caseload thead th", has_text="Branch")).to_be_hidden()


def test_the_sort_select_sorts_the_caseload_on_a_phone(live_server, new_page, busy_world):
    page = new_page(PHONE)
    sign_in(page, live_server.url, busy_world.cm)
    page.goto(f"{live_server.url}/patients/")
    expect(page.locator("table.caseload thead")).to_be_hidden()
    select = page.get_by_label("Sort by")
    expect(select).to_be_visible()
    assert select.bounding_box()["height"] >= 44
    names = page.locator("table.caseload tbody th > a")
    expect(names.first).to_have_text("Delarosa-Montgomery, Luis Miguel")
    select.select_option("-name")
    expect(page.locator("#caseload-summary")).to_contain_text("sorted by name (descending)")
    expect(names.first).to_have_text("Hale, Margaret")
    assert "sort=-name" in page.url
    select.select_option("assessment-due")
    expect(page.locator("#caseload-summary")).to_contain_text("sorted by assessment due")
    # The choice survives a reload (it is in the address) and still fits the phone.
    page.reload()
    expect(page.get_by_label("Sort by")).to_have_value("assessment-due")
    assert_fits(page, "phone, sorted")


@pytest.mark.parametrize(("width", "stacked"), WIDTHS, ids=[str(w) for w, _ in WIDTHS])
def test_every_column_shows_once_and_nothing_scrolls_sideways(
    live_server, new_page, busy_world, width, stacked
):
    secret = enrol_two_factor(busy_world.supervisor)
    page = new_page({"width": width, "height": 1000})
    sign_in(page, live_server.url, busy_world.supervisor, secret)
    page.goto(f"{live_server.url}/patients/")
    expect(page.get_by_role("link", name="Hale, Margaret")).to_be_visible()
    assert_fits(page, str(width))
    row = page.locator("table.caseload tbody tr", has_text="Hale, Margaret")
    columns = ((2, "Primary diagnosis"), (2, "Case manager"), (3, "Branch"), (3, "Notes"))
    for priority, title in columns:
        header = page.locator("table.caseload thead th", has_text=title)
        under_name = row.locator(f".stacked-cells .stack-p{priority} dt", has_text=title)
        if priority in stacked:
            expect(header).to_be_hidden()
            expect(under_name).to_be_visible()
        else:
            expect(header).to_be_visible()
            expect(under_name).to_be_hidden()
    expect(row).to_contain_text("Heart failure")  # the diagnosis, wherever it is shown
    expect(row.get_by_text("Weight up 5 lb in a week", exact=False).first).to_be_visible()


def test_a_sort_chosen_in_the_header_stays_when_the_filters_change(
    live_server, new_page, busy_world
):
    page = new_page(TABLET)
    sign_in(page, live_server.url, busy_world.cm)
    page.goto(f"{live_server.url}/patients/")
    expect(page.get_by_label("Sort by")).to_be_hidden()  # the header sorts here
    page.locator("table.caseload thead").get_by_role("link", name="Name").click()
    expect(page.locator("#caseload-summary")).to_contain_text("sorted by name (descending)")
    # The form's select, hidden at this width, took the header's sort, so a search keeps it.
    expect(page.get_by_label("Sort by")).to_have_value("-name")
    page.get_by_label("Search by name or MRN").fill("e")
    expect(page.locator("#caseload-summary")).to_contain_text("matching “e”")
    expect(page.locator("#caseload-summary")).to_contain_text("sorted by name (descending)")
