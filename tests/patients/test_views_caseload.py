"""The caseload: what it lists, how it sorts, filters, searches and pages, and what it audits."""

import re
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from careway.core import audit
from careway.core.models import AuditEvent
from careway.patients import services
from careway.patients.models import EpisodeOfCare
from tests.factories import make_patient

pytestmark = pytest.mark.django_db
URL = reverse("caseload")


def names_in(response) -> list[str]:
    """Patient names in table order, as 'Family, Given'."""
    html = response.content.decode()
    return re.findall(r'<a href="/patients/[0-9a-f-]+/">([^<]+)</a>', html)


def flag(patient, kind="high_fall_risk", label="High fall risk", severity="urgent"):
    data = {"kind": kind, "label": label, "severity": severity, "source": "test"}
    return services.raise_flag(audit.Actor(user=None), patient, data)


def diagnose(patient, display, primary=False):
    data = {"display": display, "is_primary": primary}
    return services.add_condition(audit.Actor(user=None), patient, data)


@pytest.fixture
def caseload(world):
    """cm's caseload: Margaret Hale (from the world) and three more."""
    w = world
    w.extra["adams"] = make_patient(
        w.branch, w.cm, given_name="Zoe", family_name="Adams", birth_date=date(1990, 1, 1)
    )
    w.extra["young"] = make_patient(
        w.branch, w.cm, given_name="Ben", family_name="Young", birth_date=date(1930, 6, 1)
    )
    gone = make_patient(w.branch, w.cm, given_name="Dora", family_name="Gone")
    EpisodeOfCare.objects.filter(patient=gone).update(status="discharged")
    w.extra["gone"] = gone
    return w


def test_lists_the_caseload_with_its_columns(login, caseload):
    w = caseload
    diagnose(w.patient, "Essential hypertension")
    diagnose(w.patient, "Heart failure", primary=True)
    flag(w.patient)
    response = login(w.cm).get(URL)
    html = response.content.decode()
    assert names_in(response) == ["Adams, Zoe", "Hale, Margaret", "Young, Ben"]
    assert "3 patients" in html and "sorted by name (ascending)" in html
    assert "Heart failure" in html  # the primary diagnosis, not the first one recorded
    start = w.patient.episodes.get().start_of_care
    today = timezone.localdate(timezone=ZoneInfo(w.org.timezone))  # days count in agency time
    assert re.search(rf"Day {(today - start).days + 1}\b", html)
    assert "Urgent:</span> High fall risk" in html  # severity as a word, not only colour
    assert w.branch.name not in html and ">Case manager" not in html  # a supervisor's columns
    assert "Otto" not in html  # another agency's patient


def test_primary_diagnosis_falls_back_to_the_first_active_problem(login, caseload):
    diagnose(caseload.patient, "Type 2 diabetes")
    diagnose(caseload.patient, "COPD")
    assert "Type 2 diabetes" in login(caseload.cm).get(URL).content.decode()


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Adams, Zoe", "Hale, Margaret", "Young, Ben"]),
        ("-name", ["Young, Ben", "Hale, Margaret", "Adams, Zoe"]),
        ("age", ["Adams, Zoe", "Hale, Margaret", "Young, Ben"]),
        ("-age", ["Young, Ben", "Hale, Margaret", "Adams, Zoe"]),
    ],
)
def test_sorts_by_name_and_age(login, caseload, sort, expected):
    response = login(caseload.cm).get(URL, {"sort": sort})
    assert names_in(response) == expected


def test_sorts_by_diagnosis_and_episode_day(login, caseload):
    w = caseload
    diagnose(w.patient, "Wound care", primary=True)
    diagnose(w.extra["adams"], "Heart failure", primary=True)
    EpisodeOfCare.objects.filter(patient=w.extra["young"]).update(
        start_of_care=timezone.localdate() - timedelta(days=2)
    )
    client = login(w.cm)
    by_dx = names_in(client.get(URL, {"sort": "diagnosis"}))
    assert by_dx == ["Adams, Zoe", "Hale, Margaret", "Young, Ben"]  # no diagnosis last
    by_day = client.get(URL, {"sort": "day"})
    assert names_in(by_day)[0] == "Young, Ben"  # day 2 or 3 before day 12 or 13
    assert "sorted by episode day (ascending)" in by_day.content.decode()
    assert 'aria-sort="ascending"' in by_day.content.decode()


def test_an_unknown_sort_falls_back_to_name(login, caseload):
    response = login(caseload.cm).get(URL, {"sort": "drop table"})
    assert response.status_code == 200
    assert names_in(response) == ["Adams, Zoe", "Hale, Margaret", "Young, Ben"]


def test_filters_by_flag_category(login, caseload):
    flag(caseload.extra["young"], kind="weight_gain", label="Weight up 3 lb", severity="warning")
    flag(caseload.patient)
    response = login(caseload.cm).get(URL, {"flag": "Weight gain"})
    assert names_in(response) == ["Young, Ben"]
    assert (
        '<option value="Weight gain" selected>Weight gain (1)</option>' in response.content.decode()
    )


def test_the_flag_filter_lists_categories_with_counts_not_one_patients_detail(login, caseload):
    """Issue 16: "High fall risk: numb feet" also found "right leg weakness"; the option is the
    category, counted, and it finds exactly the patients with a flag of that category."""
    w = caseload
    flag(w.patient, kind="high-fall-risk", label="High fall risk: numb feet")
    flag(w.extra["young"], kind="high-fall-risk", label="High fall risk: right leg weakness")
    flag(w.extra["adams"], kind="self-harm-risk", label="PHQ-9 item 9 answered")
    page = login(w.cm).get(URL).content.decode()
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]+)</option>', page)
    assert ("High fall risk", "High fall risk (2)") in options
    assert ("Depression: self-harm answer", "Depression: self-harm answer (1)") in options
    assert not any("numb feet" in text or "weakness" in text for _, text in options)
    fallers = login(w.cm).get(URL, {"flag": "High fall risk"})
    assert names_in(fallers) == ["Hale, Margaret", "Young, Ben"]
    # Exactly: a category that only starts like another finds nobody.
    assert names_in(login(w.cm).get(URL, {"flag": "High fall"})) == names_in(login(w.cm).get(URL))


def test_resolved_flags_leave_the_filter_and_the_row(login, caseload):
    w = caseload
    raised = flag(w.patient, kind="weight-gain", label="Weight up 5 lb")
    services.resolve_flag(
        audit.Actor(user=w.cm), raised, "Diuretic dose changed by Dr Ames", raised.version
    )
    page = login(w.cm).get(URL).content.decode()
    assert "Weight gain" not in page
    assert names_in(login(w.cm).get(URL, {"flag": "Weight gain"})) == names_in(login(w.cm).get(URL))


def test_a_row_shows_the_three_most_severe_flags_and_links_to_the_rest(login, caseload):
    for n in range(4):
        flag(caseload.patient, kind=f"info-{n}", label=f"Note {n}", severity="info")
    flag(caseload.patient, kind="self-harm-risk", label="Thoughts of self-harm")
    page = login(caseload.cm).get(URL).content.decode()
    html = page.split("<tbody>", 1)[1]  # the filter's options list every kind; the rows don't
    assert "Thoughts of self-harm" in html
    assert sum(f"Note {n}" in html for n in range(4)) == 2
    assert "+2 more" in html


def test_filters_active_or_discharged_episodes(login, caseload):
    client = login(caseload.cm)
    assert "Gone, Dora" not in names_in(client.get(URL))
    assert names_in(client.get(URL, {"episodes": "closed"})) == ["Gone, Dora"]
    assert len(names_in(client.get(URL, {"episodes": "all"}))) == 4


@pytest.mark.parametrize(
    ("q", "expected"),
    [("hale", ["Hale, Margaret"]), ("ben you", ["Young, Ben"]), ("nobody", [])],
)
def test_searches_by_name(login, caseload, q, expected):
    assert names_in(login(caseload.cm).get(URL, {"q": q})) == expected


def test_searches_by_mrn(login, caseload):
    mrn = caseload.extra["adams"].mrn
    assert names_in(login(caseload.cm).get(URL, {"q": mrn})) == ["Adams, Zoe"]


def test_empty_states_say_what_to_do(login, caseload, world):
    client = login(caseload.cm)
    searched = client.get(URL, {"q": "nobody"}).content.decode()
    assert "No patients match these filters" in searched and "clear the filters" in searched
    empty = login(world.cm_other).get(URL).content.decode()
    assert "You have no patients yet" in empty
    assert "Register a new patient" in empty


def test_htmx_search_returns_only_the_results(login, caseload):
    response = login(caseload.cm).get(URL, {"q": "hale"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html and "<form" not in html
    assert names_in(response) == ["Hale, Margaret"]
    assert "HX-Request" in response["Vary"]


def test_search_form_works_without_javascript(login, caseload):
    html = login(caseload.cm).get(URL, {"q": "hale"}).content.decode()
    assert '<form class="caseload-filters" id="caseload-filters" method="get"' in html
    assert 'name="q" id="id_q" value="hale"' in html


def test_pages_fifty_at_a_time(login, world):
    for n in range(51):
        make_patient(world.branch, world.cm, given_name=f"P{n:02d}", family_name="Many")
    client = login(world.cm)
    first = client.get(URL)
    assert len(names_in(first)) == 50
    assert "52 patients" in first.content.decode()
    assert "Page 1 of 2" in first.content.decode()
    second = client.get(URL, {"page": 2})
    assert len(names_in(second)) == 2
    assert client.get(URL, {"page": "nonsense"}).status_code == 200


def test_audits_the_patients_shown_with_the_search(login, caseload):
    login(caseload.cm).get(URL, {"q": "a"})
    events = AuditEvent.objects.filter(action="patient.list", actor_id=caseload.cm.pk)
    shown = {caseload.patient.pk, caseload.extra["adams"].pk}
    assert {e.patient_id for e in events} == shown
    assert all(e.detail == {"q": "a"} for e in events)


@pytest.mark.parametrize(
    ("who", "query"),
    [
        ("cm", {}),
        ("cm", {"sort": "assessment-due"}),
        ("supervisor", {}),
        ("supervisor", {"sort": "-assessment-due"}),
        ("supervisor", {"sort": "case-manager", "case_manager": "{cm}"}),
    ],
)
def test_query_count_does_not_grow_with_patients(login, world, who, query):
    client = login(getattr(world, who))
    query = {k: v.format(cm=world.cm.pk) for k, v in query.items()}
    flag(world.patient)
    diagnose(world.patient, "Heart failure", primary=True)
    client.get(URL, query)  # warm the session
    with CaptureQueriesContext(connection) as one:
        assert client.get(URL, query).status_code == 200
    for n in range(29):
        patient = make_patient(world.branch, world.cm, given_name=f"P{n}", family_name="Many")
        flag(patient)
        flag(patient, kind="weight_gain", label="Weight gain", severity="warning")
        diagnose(patient, "COPD", primary=True)
    with CaptureQueriesContext(connection) as thirty:
        response = client.get(URL, query)
    assert len(names_in(response)) == 30
    assert len(thirty) == len(one)


# --- what a supervisor sees: case managers, branches, caseload sizes ---------------------------


@pytest.fixture
def branch_caseloads(caseload):
    """Two case managers under one supervisor: cm has Adams, Hale and Young (open), cm_other
    has Quinn; Nobody has no primary case manager."""
    w = caseload
    w.cm.first_name, w.cm.last_name = "Lucia", "Rivera"
    w.cm.save()
    w.cm_other.first_name, w.cm_other.last_name = "Daniel", "Okafor"
    w.cm_other.save()
    make_patient(w.branch, w.cm_other, given_name="Ann", family_name="Quinn")
    nobody = make_patient(w.branch, w.cm, given_name="Ned", family_name="Nobody")
    nobody.care_team.update(is_primary_case_manager=False)
    return w


def row_of(html: str, name: str) -> str:
    return re.search(rf">{name}</a>.*?</tr>", html, re.S).group(0)


def test_a_supervisor_sees_each_patients_case_manager_and_branch(login, branch_caseloads):
    w = branch_caseloads
    html = login(w.supervisor).get(URL).content.decode()
    assert ">Case manager" in html and ">Branch" in html
    assert "Rivera, Lucia" in row_of(html, "Hale, Margaret")
    assert "Okafor, Daniel" in row_of(html, "Quinn, Ann")
    assert "None assigned" in row_of(html, "Nobody, Ned")
    assert w.branch.name in row_of(html, "Hale, Margaret")
    by_manager = names_in(login(w.supervisor).get(URL, {"sort": "case-manager"}))
    assert by_manager[:2] == ["Quinn, Ann", "Adams, Zoe"]  # Okafor before Rivera
    assert by_manager[-1] == "Nobody, Ned"  # no case manager last


def test_a_supervisor_sees_each_caseloads_size_and_filters_by_case_manager(login, branch_caseloads):
    w = branch_caseloads
    client = login(w.supervisor)
    html = client.get(URL).content.decode()
    sizes = html.split('class="caseload-sizes"', 1)[1].split("</section>", 1)[0]
    assert re.findall(r">([^<>]+)<span class=\"size-count\">(\d+) patients?<", sizes) == [
        ("Okafor, Daniel", "1"),
        ("Rivera, Lucia", "3"),
        ("No case manager", "1"),
    ]
    mine = client.get(URL, {"case_manager": w.cm.pk})
    assert names_in(mine) == ["Adams, Zoe", "Hale, Margaret", "Young, Ben"]
    assert 'aria-current="true">Rivera, Lucia' in mine.content.decode()
    assert names_in(client.get(URL, {"case_manager": "none"})) == ["Nobody, Ned"]
    # The sizes follow the other filters, not the case manager one.
    searched = client.get(URL, {"case_manager": w.cm.pk, "q": "hale"}).content.decode()
    assert '>Rivera, Lucia<span class="size-count">1 patient<' in searched
    assert '>Okafor, Daniel<span class="size-count">0 patients<' in searched


def test_case_managers_see_no_sizes_and_cannot_filter_by_case_manager(login, branch_caseloads):
    w = branch_caseloads
    response = login(w.cm).get(URL, {"case_manager": w.cm_other.pk})
    html = response.content.decode()
    assert "caseload-sizes" not in html and 'name="case_manager"' not in html
    assert names_in(response) == ["Adams, Zoe", "Hale, Margaret", "Nobody, Ned", "Young, Ben"]


def test_a_stale_case_manager_filter_shows_everyone(login, branch_caseloads):
    response = login(branch_caseloads.supervisor).get(URL, {"case_manager": "999999"})
    assert response.status_code == 200
    assert len(names_in(response)) == 5


# --- sorting where the header is hidden (a phone) -------------------------------------------


def test_a_sort_select_offers_every_sortable_column_both_ways(login, caseload):
    html = login(caseload.cm).get(URL, {"sort": "-age"}).content.decode()
    select = re.search(r'<select name="sort".*?</select>', html, re.S).group(0)
    options = re.findall(r'<option value="([^"]*)"', select)
    assert options[:4] == ["name", "-name", "age", "-age"]
    assert {"assessment-due", "-assessment-due", "day", "diagnosis"} <= set(options)
    assert "case-manager" not in options  # not a column this person sees
    assert '<option value="-age" selected>Age, descending</option>' in select


def test_sorting_from_the_table_keeps_the_select_in_step(login, caseload):
    headers = {"HX-Request": "true"}
    by_link = login(caseload.cm).get(URL, {"sort": "age"}, headers=headers).content.decode()
    assert 'id="caseload-sort" hx-swap-oob="true"' in by_link
    assert '<option value="age" selected>' in by_link
    from_form = login(caseload.cm).get(
        URL, {"sort": "age"}, headers=headers | {"HX-Trigger": "caseload-filters"}
    )
    assert 'id="caseload-sort"' not in from_form.content.decode()


# --- people who do not read charts -----------------------------------------------------------


def test_an_agency_admin_is_sent_to_the_people_page_not_to_a_supervisor(login, world):
    html = login(world.admin).get(URL).content.decode()
    assert "supervisor to add you" not in html and "no patients yet" not in html
    assert f'href="{reverse("user_list")}"' in html
    assert "caseload-filters" not in html


def test_an_auditor_is_sent_to_the_audit_log(login, world):
    html = login(world.auditor).get(URL).content.decode()
    assert f'href="{reverse("audit_log")}"' in html
    assert "supervisor to add you" not in html


def test_a_supervisor_with_no_patients_is_not_told_to_ask_their_supervisor(login, world):
    EpisodeOfCare.objects.filter(patient=world.patient).update(status="discharged")
    html = login(world.supervisor).get(URL).content.decode()
    assert "You have no patients yet" in html
    assert "supervisor to add you" not in html and "branches you supervise" in html


def test_a_column_sorts_by_fields_or_by_keys_not_both():
    from careway.patients.frame import CaseloadColumn

    with pytest.raises(ValueError, match="not both"):
        CaseloadColumn(
            "x", "X", order=1, priority=1, cell_template="x.html",
            sort=("family_name",), sort_keys=lambda patients, today: {},
        )  # fmt: skip
    assert CaseloadColumn("x", "X", 1, 1, "x.html", sort_keys=lambda p, t: {}).sortable
