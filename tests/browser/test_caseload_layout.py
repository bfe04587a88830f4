"""The caseload fits a tablet without a sideways scroll, however many domains add columns: at
narrow widths the columns of priority 2 and 3 are stacked under the patient's name, and every
cell still shows once (careway/patients/frame.py)."""

import pytest
from playwright.sync_api import expect

from careway.core import audit
from careway.patients import services
from tests.factories import build_world

from .conftest import fill_chart, sign_in

pytestmark = pytest.mark.browser

# (viewport width, the stacked priorities at that width)
WIDTHS = ((768, {2, 3}), (1024, {3}), (1366, set()))


@pytest.fixture
def busy_world():
    world = build_world()
    fill_chart(world.patient)
    for label in ("High fall risk: weak right leg", "Weight up 5 lb in a week"):
        services.raise_flag(
            audit.Actor(user=None), world.patient, {"kind": label[:10], "label": label}
        )
    return world


def overflow(page, selector: str) -> int:
    return page.evaluate(
        f"(() => {{ const e = document.querySelector('{selector}'); "
        "return e.scrollWidth - e.clientWidth; })()"
    )


@pytest.mark.parametrize(("width", "stacked"), WIDTHS, ids=[str(w) for w, _ in WIDTHS])
def test_every_column_shows_once_and_nothing_scrolls_sideways(
    live_server, new_page, busy_world, width, stacked
):
    page = new_page({"width": width, "height": 1000})
    sign_in(page, live_server.url, busy_world.cm)
    page.goto(f"{live_server.url}/patients/")
    expect(page.get_by_role("link", name="Hale, Margaret")).to_be_visible()
    assert overflow(page, "html") <= 0
    assert overflow(page, ".table-wrap") <= 0
    row = page.locator("table.caseload tbody tr").first
    for priority, title in ((2, "Primary diagnosis"), (3, "Branch"), (3, "Notes")):
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
