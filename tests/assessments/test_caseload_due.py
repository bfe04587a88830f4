"""The caseload sorted by what is due: the assessments domain gives each patient's key through
its column's registration (`sort_keys`), over the whole caseload and not only the page shown."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from careway.patients.models import EpisodeOfCare
from tests.factories import make_patient

pytestmark = pytest.mark.django_db
URL = reverse("caseload")


def names_in(response) -> list[str]:
    return re.findall(r'<a href="/patients/[0-9a-f-]+/">([^<]+)</a>', response.content.decode())


def starting(patient, days_from_today: int | None) -> None:
    start = None if days_from_today is None else timezone.localdate() + timedelta(days_from_today)
    status = "referred" if start is None else "active"
    EpisodeOfCare.objects.filter(patient=patient).update(start_of_care=start, status=status)


@pytest.fixture
def due_world(world):
    """Hale's start of care was 12 days ago (overdue); Young's 2 days ago (due); Adams starts in
    3 days (due soon); Baker has no start of care yet (nothing due)."""
    w = world
    starting(make_patient(w.branch, w.cm, given_name="Zoe", family_name="Adams"), 3)
    starting(make_patient(w.branch, w.cm, given_name="Bo", family_name="Baker"), None)
    starting(make_patient(w.branch, w.cm, given_name="Ben", family_name="Young"), -2)
    return w


def test_sorts_by_what_is_due_the_most_pressing_first(login, due_world):
    response = login(due_world.cm).get(URL, {"sort": "assessment-due"})
    assert names_in(response) == ["Hale, Margaret", "Young, Ben", "Adams, Zoe", "Baker, Bo"]
    html = response.content.decode()
    assert "sorted by assessment due (ascending)" in html
    assert 'aria-sort="ascending"' in html


def test_sorts_by_what_is_due_the_other_way_with_nothing_due_still_last(login, due_world):
    response = login(due_world.cm).get(URL, {"sort": "-assessment-due"})
    assert names_in(response) == ["Adams, Zoe", "Young, Ben", "Hale, Margaret", "Baker, Bo"]


def test_the_sort_by_due_covers_the_whole_caseload_not_one_page(login, world):
    for n in range(50):
        make_patient(world.branch, world.cm, given_name=f"P{n:02d}", family_name="Aaron")
    late = make_patient(world.branch, world.cm, given_name="Zed", family_name="Zulu")
    starting(late, -40)  # its start of care was due 35 days ago: the most overdue of all
    client = login(world.cm)
    first = names_in(client.get(URL, {"sort": "assessment-due"}))
    assert len(first) == 50 and first[0] == "Zulu, Zed"
    second = names_in(client.get(URL, {"sort": "assessment-due", "page": 2}))
    assert len(second) == 2 and "Zulu, Zed" not in second
    assert len(set(first + second)) == 52
