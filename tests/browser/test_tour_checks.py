"""The page tour's checks find each defect they are for, and pass a page without it."""

import pytest

from . import tour

pytestmark = pytest.mark.browser

CLEAN = """
<main style="font: 16px sans-serif; padding: 8px">
  <h1>Caseload</h1>
  <p>Read the <a href="/help">help page</a> before you start.</p>
  <a href="/a" style="display:inline-block; padding:12px">A roomy link</a>
  <button type="submit" style="min-height:44px">Save</button>
</main>
"""


def problems_of(page, html: str, phone: bool = False) -> list[str]:
    page.set_content(html)
    return tour.check_page(page, phone=phone, axe=False)


def test_a_clean_page_has_no_problems(new_page):
    page = new_page(tour.PHONE)
    assert problems_of(page, CLEAN, phone=True) == []


def test_a_page_wider_than_the_phone_scrolls_sideways(new_page):
    page = new_page(tour.PHONE)
    found = problems_of(page, '<div style="width: 600px">wide</div>', phone=True)
    assert any("the page scrolls sideways" in p for p in found), found


def test_text_cut_off_with_an_ellipsis_is_found(new_page):
    page = new_page(tour.TABLET)
    html = (
        '<div style="width:120px; overflow:hidden; white-space:nowrap; text-overflow:ellipsis">'
        "Nitroglycerin 0.4 MG/ACTUAT Mucosal Spray</div>"
    )
    found = problems_of(page, html)
    assert any("cuts off its content" in p and "Nitroglycerin" in p for p in found), found


def test_a_table_that_scrolls_sideways_is_found(new_page):
    page = new_page(tour.TABLET)
    html = (
        '<div style="overflow-x:auto; width:300px">'
        '<table><tr><td style="min-width:900px">x</td></tr></table></div>'
    )
    found = problems_of(page, html)
    assert any("scrolls sideways" in p for p in found), found


def test_an_element_past_the_right_edge_is_found(new_page):
    page = new_page(tour.TABLET)
    html = '<div style="position:absolute; left:1000px; width:100px">Branch</div>'
    found = problems_of(page, html)
    assert any("past the window's right edge" in p and "Branch" in p for p in found), found


def test_small_targets_close_together_fail_and_spaced_or_inline_ones_pass(new_page):
    page = new_page(tour.DESKTOP)
    # One under the other, 18 px apart: each one's 24 px circle reaches into the other.
    close = (
        '<div><a href="/1" style="display:block;width:60px;height:18px;font-size:12px">Amend</a>'
        '<a href="/2" style="display:block;width:60px;height:18px;font-size:12px">Amend</a></div>'
    )
    found = problems_of(page, close)
    assert any("target a" in p and "too close" in p for p in found), found
    spaced = (
        '<div><a href="/1" style="display:block;width:60px;height:18px;font-size:12px">Amend</a>'
        '<a href="/2" style="display:block;width:60px;height:18px;margin-top:10px;'
        'font-size:12px">Amend</a></div>'
    )
    assert problems_of(page, spaced) == []
    inline = '<p style="font-size:12px">See <a href="/1">this</a> and <a href="/2">that</a>.</p>'
    assert problems_of(page, inline) == []


def test_a_primary_action_under_44_px_fails_on_the_phone_only(new_page):
    page = new_page(tour.PHONE)
    html = '<form><button type="submit" style="height:30px; margin:20px">Sign</button></form>'
    found = problems_of(page, html, phone=True)
    assert any("action button" in p and "30 px tall" in p for p in found), found
    assert problems_of(page, html, phone=False) == []


@pytest.mark.parametrize(
    "text",
    [
        "Chronic congestive heart failure (disorder)",
        "Referred by FHIR import",
        "urn:careway:fhir:Questionnaire:phq9",
        '{"two_factor": true}',
    ],
)
def test_technical_words_are_found(new_page, text):
    page = new_page(tour.DESKTOP)
    found = problems_of(page, f"<p>{text}</p>")
    assert any(p.startswith("technical words") for p in found), found


def test_visually_hidden_text_is_not_cut_off_text(new_page):
    page = new_page(tour.PHONE)
    html = (
        '<fieldset><legend style="position:absolute; width:1px; height:1px; overflow:hidden; '
        'clip:rect(0 0 0 0); white-space:nowrap">How often do you feel lonely?</legend></fieldset>'
    )
    assert problems_of(page, html, phone=True) == []


def test_a_header_row_moved_off_the_left_edge_is_found_but_a_skip_link_is_not(new_page):
    page = new_page(tour.PHONE)
    html = (
        '<a href="#main" style="position:absolute; left:-9999px">Skip to content</a>'
        '<table><thead style="position:absolute; left:-9999px"><tr><th>Name</th></tr></thead>'
        "<tbody><tr><td>Ada</td></tr></tbody></table>"
    )
    found = problems_of(page, html, phone=True)
    assert any("thead" in p and "left edge" in p for p in found), found
    assert not any("Skip" in p for p in found), found
