"""An agency's own care plan templates (issue 18: "agency admins add and edit templates,
versioned; the shipped ones stay as they are and can be copied"): the services that copy,
create, save, retire and restore them (each a new version, audited, a stale version a conflict,
bad content refused naming every field and writing nothing), what suggestions then use (the
agency's copy in place of Careway's, for that agency only), and the pages and JSON API with
their three access tests: an admin can; a case manager or the read-only scheduler reads but
cannot write (403, audited); another agency's admin gets 404 for this agency's own template and
does not see it listed."""

import copy
import json
import math

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from careway.careplans import plan_templates, services
from careway.careplans.models import AgencyTemplate, Suggestion
from careway.core import audit, tokens
from careway.core.conflicts import VersionConflict
from careway.core.models import AuditEvent, User
from careway.core.roles import Role
from careway.patients import services as patient_services
from tests.api.conftest import ApiClient, problem_fields
from tests.factories import make_user

pytestmark = pytest.mark.django_db

HF = "heart-failure"
SNOMED = "http://snomed.info/sct"
OUR_PROBLEM = "Heart failure: fluid, breathing and staying out of hospital (Riverbend wording)"


@pytest.fixture
def admin(world) -> audit.Actor:
    return audit.Actor(user=world.admin)


@pytest.fixture
def other_admin(world) -> User:
    return make_user(world.other_org, None, Role.AGENCY_ADMIN, "admin_other")


def shipped_content(key: str = HF) -> dict:
    return copy.deepcopy(plan_templates.shipped()[key].raw)


def own_content(key: str = "riverbend-cellulitis") -> dict:
    return {
        "key": key,
        "version": "1",
        "title": "Cellulitis of the leg",
        "summary": "For a patient treated at home for cellulitis of a leg.",
        "sources": ["Riverbend Home Health wound care committee, 2026 protocol (internal)."],
        "terms": "The agency's own protocol.",
        "problems": [{"key": "cell", "text": "Skin infection of the leg"}],
        "goals": [
            {
                "key": "cell-heals",
                "problem": "cell",
                "description": "Redness recedes inside the marked line within 5 days",
                "due_in_days": 5,
            }
        ],
        "interventions": [
            {
                "key": "cell-mark",
                "problem": "cell",
                "goal": "cell-heals",
                "kind": "monitor",
                "text": "Mark the edge of the redness and compare at each visit",
                "discipline": "RN",
                "frequency": "3w1",
            }
        ],
    }


def edited(content: dict, text: str = OUR_PROBLEM) -> dict:
    changed = copy.deepcopy(content)
    changed["problems"][0]["text"] = text
    return changed


def template_rows(organization) -> list[tuple[int, bool, bool]]:
    rows = AgencyTemplate.objects.filter(organization=organization).order_by("key", "version")
    return list(rows.values_list("version", "current", "active"))


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


# --- services ------------------------------------------------------------------------------------


def test_a_shipped_template_is_copied_as_the_agencys_version_1_and_audited(world, admin):
    row = services.copy_template(admin, world.org, HF)
    assert (row.version, row.current, row.active) == (1, True, True)
    assert row.copied_from == f"heart-failure@{shipped_content()['version']}"
    assert row.changed_by == world.admin
    assert row.content == {**shipped_content(), "version": "1"}
    (event,) = events("careplan.template.copy")
    assert event.organization_id == world.org.pk and event.patient_id is None
    assert event.object_id == str(row.pk)
    assert (
        event.detail["key"] == HF
        and event.detail["copied_from"] == f"heart-failure@{shipped_content()['version']}"
    )
    # The shipped file is untouched.
    assert plan_templates.shipped()[HF].raw == shipped_content()


def test_a_second_copy_of_the_same_key_is_refused_naming_the_key(world, admin):
    services.copy_template(admin, world.org, HF)
    with pytest.raises(ValidationError) as refused:
        services.copy_template(admin, world.org, HF)
    assert list(refused.value.message_dict) == ["key"]
    assert "already has its own" in refused.value.message_dict["key"][0]
    assert template_rows(world.org) == [(1, True, True)]
    with pytest.raises(ValidationError) as unknown:
        services.copy_template(admin, world.org, "no-such-template")
    assert list(unknown.value.message_dict) == ["key"]


def test_saving_writes_the_next_version_and_keeps_the_one_before(world, admin):
    first = services.copy_template(admin, world.org, HF)
    second = services.save_template(
        admin, world.org, HF, edited(first.content), 1, "Our wording for the problem"
    )
    assert template_rows(world.org) == [(1, False, True), (2, True, True)]
    assert second.content["problems"][0]["text"] == OUR_PROBLEM
    assert second.content["version"] == "2"
    assert second.note == "Our wording for the problem"
    first.refresh_from_db()
    assert first.content["problems"][0]["text"] != OUR_PROBLEM
    (event,) = events("careplan.template.save")
    assert event.detail == {
        "key": HF,
        "version": 2,
        "active": True,
        "note": "Our wording for the problem",
        "previous_version": 1,
    }
    assert event.organization_id == world.org.pk and event.patient_id is None
    # The same content again makes no new version.
    again = services.save_template(admin, world.org, HF, second.content, 2, "")
    assert again.pk == second.pk and len(events("careplan.template.save")) == 1


def test_bad_content_names_every_field_by_its_path_and_writes_nothing(world, admin):
    row = services.copy_template(admin, world.org, HF)
    bad = copy.deepcopy(row.content)
    bad["goals"][0]["measure"] = "mood"
    bad["interventions"][1]["kind"] = "pray"
    bad["interventions"][2]["frequency"] = "often"
    bad["sources"] = []
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as refused:
        services.save_template(admin, world.org, HF, bad, 1, "")
    errors = refused.value.message_dict
    assert {
        "sources",
        "goals[0].measure",
        "interventions[1].kind",
        "interventions[2].frequency",
    } <= set(errors)
    assert "One of teach, perform" in errors["interventions[1].kind"][0]
    assert template_rows(world.org) == [(1, True, True)]
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda c: c.update(key="other-key"), "key"),
        (lambda c: c.update(title="T" * 201), "title"),
        (lambda c: c["sources"].append("  "), "sources[1]"),
        (lambda c: c["problems"][0].update(text="Heart\x00failure"), "problems[0].text"),
        (lambda c: c["problems"][0].update(text="\ud800"), "problems[0].text"),
        (lambda c: c["goals"][0].update(target_days=math.nan), "goals[0].target_days"),
        (
            lambda c: c["goals"][1].update(measure="weight", target_low=170, target_high=160),
            "goals[1].target_high",
        ),
        (lambda c: c["goals"][1].update(extra=[[[[[[[[[[]]]]]]]]]]), None),
    ],
    ids=["key kept", "title", "blank source", "NUL", "surrogate", "NaN", "low above high", "deep"],
)
def test_what_a_database_or_a_goal_cannot_hold_is_refused_by_its_path(world, admin, change, path):
    row = services.copy_template(admin, world.org, HF)
    content = copy.deepcopy(row.content)
    change(content)
    with pytest.raises(ValidationError) as refused:
        services.save_template(admin, world.org, HF, content, 1, "")
    named = list(refused.value.message_dict)
    assert named == [path] if path else named[0].startswith("goals[1].extra")
    assert template_rows(world.org) == [(1, True, True)]


def test_a_note_longer_than_its_limit_is_refused_by_name(world, admin):
    row = services.copy_template(admin, world.org, HF)
    with pytest.raises(ValidationError) as refused:
        services.save_template(admin, world.org, HF, edited(row.content), 1, "n" * 301)
    assert list(refused.value.message_dict) == ["note"]


def test_a_stale_version_is_a_conflict_that_writes_nothing(world, admin):
    services.copy_template(admin, world.org, HF)
    current = services.save_template(admin, world.org, HF, edited(shipped_content()), 1, "")
    with pytest.raises(VersionConflict) as stale:
        services.save_template(admin, world.org, HF, edited(shipped_content(), "Mine"), 1, "")
    assert stale.value.current_version == 2 and stale.value.current.pk == current.pk
    assert template_rows(world.org) == [(1, False, True), (2, True, True)]
    with pytest.raises(VersionConflict):
        services.retire_template(admin, world.org, HF, 1)


def test_retire_and_restore_are_new_versions_and_say_what_suggestions_use(world, admin):
    row = services.copy_template(admin, world.org, HF)
    services.save_template(admin, world.org, HF, edited(row.content), 1, "")
    assert plan_templates.templates_for(world.org.pk)[HF].items["hf"].text == OUR_PROBLEM
    retired = services.retire_template(admin, world.org, HF, 2, "Back to Careway's wording")
    assert (retired.version, retired.active, retired.note) == (
        3,
        False,
        "Back to Careway's wording",
    )
    # Retired: Careway's template is used again.
    in_use = plan_templates.templates_for(world.org.pk)[HF]
    assert in_use.shipped and in_use.items["hf"].text != OUR_PROBLEM
    restored = services.restore_template(admin, world.org, HF, 3)
    assert (restored.version, restored.active) == (4, True)
    assert restored.content["problems"][0]["text"] == OUR_PROBLEM
    assert plan_templates.templates_for(world.org.pk)[HF].items["hf"].text == OUR_PROBLEM
    assert template_rows(world.org) == [(1, False, True), (2, False, True), (3, False, False),
                                        (4, True, True)]  # fmt: skip
    assert [e.detail["version"] for e in events("careplan.template.retire")] == [3]
    assert [e.detail["version"] for e in events("careplan.template.restore")] == [4]
    # Restoring what is in use changes nothing.
    assert services.restore_template(admin, world.org, HF, 4).version == 4


def test_an_agencys_own_template_is_created_under_a_key_no_one_has(world, admin):
    row = services.create_template(admin, world.org, own_content(), "From the wound committee")
    assert (row.key, row.version, row.copied_from, row.title) == (
        "riverbend-cellulitis", 1, "", "Cellulitis of the leg")  # fmt: skip
    assert events("careplan.template.create")[0].detail["key"] == "riverbend-cellulitis"
    assert "riverbend-cellulitis" in plan_templates.templates_for(world.org.pk)
    assert "riverbend-cellulitis" not in plan_templates.templates_for(world.other_org.pk)
    for key in ("riverbend-cellulitis", HF, "new"):
        with pytest.raises(ValidationError) as refused:
            services.create_template(admin, world.org, own_content(key))
        assert list(refused.value.message_dict) == ["key"], key
    retired = services.retire_template(admin, world.org, "riverbend-cellulitis", 1)
    assert "riverbend-cellulitis" not in plan_templates.templates_for(world.org.pk)
    assert retired.active is False


def test_only_the_agencys_admins_and_supervisors_change_its_templates(world):
    services.copy_template(audit.Actor(user=world.supervisor), world.org, "copd")
    for user in (world.cm, world.scheduler, world.auditor):
        with pytest.raises(PermissionDenied):
            services.copy_template(audit.Actor(user=user), world.org, HF)
    # An admin of another agency cannot write into this one.
    other = make_user(world.other_org, None, Role.AGENCY_ADMIN, "admin_other")
    with pytest.raises(PermissionDenied):
        services.copy_template(audit.Actor(user=other), world.org, HF)
    assert template_rows(world.org) == [(1, True, True)]


def test_the_agencys_copy_is_used_for_its_patients_only_and_a_refresh_takes_up_its_text(
    world, admin
):
    cm, outsider = audit.Actor(user=world.cm), audit.Actor(user=world.outsider)
    heart_failure = {"code_system": SNOMED, "code": "84114007", "display": "Heart failure"}
    with timezone.override(world.org.timezone):
        patient_services.add_condition(cm, world.patient, heart_failure)
        patient_services.add_condition(outsider, world.outsider_patient, heart_failure)
    shipped_text = plan_templates.shipped()[HF].items["hf"].text

    def problem_text(patient) -> str:
        row = Suggestion.objects.get(patient=patient, template=HF, item="hf")
        return row.text

    assert problem_text(world.patient) == problem_text(world.outsider_patient) == shipped_text
    services.copy_template(admin, world.org, HF)
    services.save_template(admin, world.org, HF, edited(shipped_content()), 1, "")
    assert plan_templates.templates_for(world.org.pk)[HF].items["hf"].text == OUR_PROBLEM
    assert plan_templates.templates_for(world.other_org.pk)[HF].items["hf"].text == shipped_text
    system = audit.Actor.system(via="task")
    services.refresh_suggestions(system, [world.patient.pk, world.outsider_patient.pk])
    assert problem_text(world.patient) == OUR_PROBLEM
    row = Suggestion.objects.get(patient=world.patient, template=HF, item="hf")
    assert row.template_version == "2" and row.status == Suggestion.Status.OPEN
    assert problem_text(world.outsider_patient) == shipped_text


# --- pages ---------------------------------------------------------------------------------------


def url(name: str, key: str | None = None) -> str:
    return reverse(f"careplans:{name}", kwargs={"key": key} if key else None)


def test_the_list_shows_every_template_with_its_state_sorted_by_title(login, world, admin):
    services.copy_template(admin, world.org, HF)
    services.retire_template(admin, world.org, HF, 1)
    services.copy_template(admin, world.org, "copd")
    services.create_template(admin, world.org, own_content())
    client = login(world.admin)
    response = client.get(url("template_list"))
    assert response.status_code == 200
    page = response.content.decode()
    count = len(plan_templates.shipped()) + 1
    assert f"{count} templates" in page and "Sorted by title" in page
    titles = [e.title for e in response.context["entries"]]
    assert titles == sorted(titles, key=str.casefold)
    assert "Cellulitis of the leg" in page
    assert "your copy, version 2, is retired" in page
    assert "Your agency&#x27;s copy, version 1" in page
    assert url("template_new") in page
    # The admin finds it from the links at the top of every page.
    assert f'href="{url("template_list")}"' in client.get(reverse("account")).content.decode()


@pytest.mark.parametrize("who", ["cm", "scheduler", "rn", "supervisor"])
def test_people_who_read_charts_read_the_templates(login, world, admin, who):
    services.create_template(admin, world.org, own_content())
    client = login(getattr(world, who))
    listing = client.get(url("template_list"))
    assert listing.status_code == 200 and "Cellulitis of the leg" in listing.content.decode()
    detail = client.get(url("template_detail", "riverbend-cellulitis"))
    assert detail.status_code == 200
    may_change = who == "supervisor"
    assert (url("template_new") in listing.content.decode()) == may_change
    assert (url("template_edit", "riverbend-cellulitis") in detail.content.decode()) == may_change


def test_someone_who_reads_no_charts_gets_404(login, world):
    client = login(world.auditor)
    assert client.get(url("template_list")).status_code == 404
    assert client.get(url("template_detail", HF)).status_code == 404


def test_a_shipped_templates_page_shows_its_parts_in_words_and_offers_a_copy(login, world):
    response = login(world.admin).get(url("template_detail", "fall-risk"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "At risk for falls" in page and "SNOMED CT 129839007" in page
    assert "no fall for 60 days" in page  # the goal's target in words
    assert "60 days after it is set" in page
    assert "Physical therapist" in page and "[the fix for each finding]" in page
    assert "www.cdc.gov/steadi" in page  # its sources
    assert "Copy to edit" in page and url("template_copy", "fall-risk") in page
    cm_page = login(world.cm).get(url("template_detail", "fall-risk")).content.decode()
    assert "Copy to edit" not in cm_page


def test_an_agency_template_page_lists_its_versions_and_shows_an_earlier_one(login, world, admin):
    services.copy_template(admin, world.org, HF)
    services.save_template(admin, world.org, HF, edited(shipped_content()), 1, "Our words")
    client = login(world.admin)
    page = client.get(url("template_detail", HF)).content.decode()
    assert "Versions (2)" in page and "Our words" in page and OUR_PROBLEM in page
    assert url("template_edit", HF) in page and url("template_retire", HF) in page
    older = client.get(url("template_detail", HF) + "?version=1").content.decode()
    assert "an earlier version" in older and OUR_PROBLEM not in older
    assert url("template_edit", HF) not in older
    shipped = client.get(url("template_detail", HF) + "?version=shipped").content.decode()
    assert "You are reading Careway's template" in shipped
    for bad in ("7", "x", "99999999999"):
        assert client.get(url("template_detail", HF) + f"?version={bad}").status_code == 404


def test_copy_to_edit_makes_the_copy_and_opens_the_editor(login, world):
    client = login(world.admin)
    response = client.post(url("template_copy", HF))
    assert response.status_code == 302 and response["Location"] == url("template_edit", HF)
    assert template_rows(world.org) == [(1, True, True)]
    editor = client.get(url("template_edit", HF))
    assert editor.status_code == 200
    content = json.loads(editor.context["form"]["content"].value())
    assert content == {**shipped_content(), "version": "1"}
    assert 'class="template-json"' in editor.content.decode()
    again = client.post(url("template_copy", HF), follow=True)
    assert "Not copied" in again.content.decode()
    assert template_rows(world.org) == [(1, True, True)]


def test_the_editor_lists_every_field_at_fault_above_the_text_and_keeps_it(login, world, admin):
    row = services.copy_template(admin, world.org, HF)
    bad = copy.deepcopy(row.content)
    bad["goals"][2]["measure"] = "mood"
    bad["interventions"][0]["discipline"] = "MD"
    typed = json.dumps(bad, indent=1)
    client = login(world.admin)
    response = client.post(
        url("template_edit", HF), {"content": typed, "note": "Try", "version": "1"}
    )
    assert response.status_code == 422
    page = response.content.decode()
    problems = page.index('id="template-problems"')
    box = page.index('<textarea name="content"')
    assert problems < box
    for path in ("goals[2].measure", "interventions[0].discipline"):
        assert f'<span class="code">{path}</span>: ' in page[problems:box]
    assert "One of the goal measures" in page[problems:box]
    assert response.context["form"]["content"].value() == typed
    assert template_rows(world.org) == [(1, True, True)]
    not_json = client.post(url("template_edit", HF), {"content": "{oops", "version": "1"})
    assert not_json.status_code == 422
    assert "Not valid JSON: line 1, column 2" in not_json.content.decode()


def test_a_save_over_someone_elses_is_a_conflict_that_keeps_what_was_typed(login, world, admin):
    services.copy_template(admin, world.org, HF)
    client = login(world.admin)
    opened = client.get(url("template_edit", HF)).context["form"]["version"].value()
    services.save_template(
        audit.Actor(user=world.supervisor), world.org, HF, edited(shipped_content()), 1, "Sato"
    )
    mine = json.dumps(edited(shipped_content(), "My own wording"))
    response = client.post(
        url("template_edit", HF), {"content": mine, "note": "Mine", "version": opened}
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "someone else saved this template" in page and "saved version 2" in page
    form = response.context["form"]
    assert form["content"].value() == mine and form["version"].value() == 2
    assert template_rows(world.org) == [(1, False, True), (2, True, True)]
    saved = client.post(url("template_edit", HF), {"content": mine, "note": "Mine", "version": 2})
    assert saved.status_code == 302
    assert AgencyTemplate.objects.get(organization=world.org, key=HF, current=True).version == 3


def test_a_new_template_starts_from_a_skeleton_that_names_what_to_fill_in(login, world):
    client = login(world.admin)
    opened = client.get(url("template_new"))
    assert opened.status_code == 200
    skeleton = opened.context["form"]["content"].value()
    response = client.post(url("template_new"), {"content": skeleton})
    assert response.status_code == 422
    named = [where for _, where, _ in response.context["form"].problems()]
    assert {"key", "title", "sources[0]", "problems[0].text", "goals[0].description"} <= set(named)
    response = client.post(
        url("template_new"), {"content": json.dumps(own_content()), "note": "Committee"}
    )
    assert response.status_code == 302
    assert response["Location"] == url("template_detail", "riverbend-cellulitis")
    assert AgencyTemplate.objects.get(key="riverbend-cellulitis").note == "Committee"


def test_retire_and_restore_from_the_page(login, world, admin):
    services.create_template(admin, world.org, own_content())
    client = login(world.admin)
    key = "riverbend-cellulitis"
    client.post(url("template_retire", key), {"version": "1", "note": "Not used"})
    assert template_rows(world.org) == [(1, False, True), (2, True, False)]
    page = client.get(url("template_detail", key)).content.decode()
    assert "Retired" in page and url("template_restore", key) in page
    stale = client.post(url("template_restore", key), {"version": "1"}, follow=True)
    assert "Not restored: someone else changed" in stale.content.decode()
    client.post(url("template_restore", key), {"version": "2"})
    assert template_rows(world.org)[-1] == (3, True, True)


WRITES = [
    ("template_copy", HF, {}),
    ("template_edit", HF, {"content": "{}", "version": "1"}),
    ("template_retire", HF, {"version": "1"}),
    ("template_restore", HF, {"version": "1"}),
    ("template_new", None, {"content": json.dumps(own_content())}),
]


@pytest.mark.parametrize(("name", "key", "data"), WRITES, ids=[w[0] for w in WRITES])
@pytest.mark.parametrize("who", ["cm", "scheduler"])
def test_a_case_manager_or_read_only_member_cannot_write_403_audited(
    login, world, admin, name, key, data, who
):
    if name != "template_copy":
        services.copy_template(admin, world.org, HF)
    before = template_rows(world.org)
    user = getattr(world, who)
    response = login(user).post(url(name, key), data)
    assert response.status_code == 403
    assert template_rows(world.org) == before
    assert AuditEvent.objects.filter(
        actor_id=user.pk, action="careplan.template.change", outcome="denied"
    ).exists()
    if name in ("template_edit", "template_new"):
        assert login(user).get(url(name, key)).status_code == 403


@pytest.mark.parametrize(("name", "key", "data"), WRITES[:4], ids=[w[0] for w in WRITES[:4]])
def test_another_agencys_admin_gets_404_for_this_agencys_own_template(
    login, world, admin, other_admin, name, key, data
):
    services.create_template(admin, world.org, own_content())
    own = "riverbend-cellulitis"
    client = login(other_admin)
    before = template_rows(world.org)
    assert client.get(url("template_detail", own)).status_code == 404
    assert client.post(url(name, own), data).status_code == 404
    assert template_rows(world.org) == before
    assert template_rows(world.other_org) == []
    listing = client.get(url("template_list")).content.decode()
    assert "Cellulitis of the leg" not in listing
    assert f"{len(plan_templates.shipped())} templates" in listing


def test_the_list_reads_in_the_same_queries_however_many_templates_the_agency_has(
    login, world, admin
):
    client = login(world.admin)
    services.copy_template(admin, world.org, HF)
    client.get(url("template_list"))  # the session's first request reads more
    with CaptureQueriesContext(connection) as one:
        client.get(url("template_list"))
    for key in ("copd", "diabetes", "stroke"):
        services.copy_template(admin, world.org, key)
    services.create_template(admin, world.org, own_content())
    with CaptureQueriesContext(connection) as five:
        client.get(url("template_list"))
    assert len(five) == len(one)


# --- the JSON API --------------------------------------------------------------------------------


def api_as(user: User, scopes=("patients:read", "patients:write")) -> ApiClient:
    raw, _ = tokens.create_token(audit.Actor.system(), user, "test", scopes, 30)
    return ApiClient(Client(), raw)


def test_the_api_lists_every_template_sorted_by_title(world, admin):
    services.create_template(admin, world.org, own_content())
    body = api_as(world.admin).get("/care-plan-templates?limit=200").json()
    assert body["count"] == len(plan_templates.shipped()) + 1
    titles = [item["title"] for item in body["items"]]
    assert titles == sorted(titles, key=str.casefold)
    own = next(i for i in body["items"] if i["key"] == "riverbend-cellulitis")
    assert own == {
        "key": "riverbend-cellulitis",
        "title": "Cellulitis of the leg",
        "origin": "own",
        "version": "1",
        "in_use": True,
        "agency_in_use": True,
        "agency_version": 1,
        "active": True,
        "shipped_version": None,
    }
    paged = api_as(world.cm).get("/care-plan-templates?limit=5").json()
    assert len(paged["items"]) == 5 and "offset=5" in paged["next"]


def test_the_api_copies_then_replaces_with_a_version(world):
    api = api_as(world.admin)
    shipped = api.get(f"/care-plan-templates/{HF}")
    assert shipped.status_code == 200 and "ETag" not in shipped
    assert shipped.json()["origin"] == "shipped" and shipped.json()["content"]["key"] == HF
    copied = api.post(f"/care-plan-templates/{HF}/copy", None)
    assert copied.status_code == 201 and copied["ETag"] == '"1"'
    assert (
        copied.json()["origin"] == "copy"
        and copied.json()["copied_from"] == f"heart-failure@{shipped_content()['version']}"
    )
    assert copied["Location"] == f"/api/v1/care-plan-templates/{HF}"
    again = api.post(f"/care-plan-templates/{HF}/copy", None)
    assert again.status_code == 409 and problem_fields(again) == ["key"]
    body = {"content": edited(shipped_content()), "note": "Our words"}
    missing = api.put(f"/care-plan-templates/{HF}", body)
    assert missing.status_code == 428
    replaced = api.put(f"/care-plan-templates/{HF}", body, **{"If-Match": '"1"'})
    assert replaced.status_code == 200 and replaced["ETag"] == '"2"'
    assert replaced.json()["versions"][0]["note"] == "Our words"
    assert replaced.json()["content"]["problems"][0]["text"] == OUR_PROBLEM
    stale = api.put(f"/care-plan-templates/{HF}", {**body, "version": 1})
    assert stale.status_code == 412 and stale.json()["current_version"] == 2
    assert events("careplan.template.save")[0].detail["version"] == 2


def test_the_api_names_each_bad_field_inside_content_and_never_fails(world, admin):
    services.copy_template(admin, world.org, HF)
    api = api_as(world.admin)
    bad = shipped_content()
    bad["goals"][0]["measure"] = "mood"
    bad["key"] = "another"
    response = api.put(f"/care-plan-templates/{HF}", {"content": bad, "version": 1})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    # The goal's interventions are refused too: the goal they name is not a goal any more.
    assert {"content.goals[0].measure", "content.key"} <= set(problem_fields(response))
    raw = Client().put(
        f"/api/v1/care-plan-templates/{HF}",
        data='{"version": 1, "content": {"title": NaN}}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert raw.status_code == 422 and problem_fields(raw) == ["content.title"]
    deep = Client().put(
        f"/api/v1/care-plan-templates/{HF}",
        data='{"version": 1, "content": ' + "[" * 5000 + "]" * 5000 + "}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert deep.status_code == 400
    assert template_rows(world.org) == [(1, True, True)]
    not_copied = api.put("/care-plan-templates/copd", {"content": shipped_content("copd")})
    assert not_copied.status_code == 404
    assert api.get("/care-plan-templates/Not_A_Key").status_code == 422


def test_the_api_creates_an_agencys_own_template(world):
    api = api_as(world.admin)
    created = api.post("/care-plan-templates", {"content": own_content(), "note": "Committee"})
    assert created.status_code == 201 and created.json()["origin"] == "own"
    assert api.post("/care-plan-templates", {"content": own_content()}).status_code == 409
    clash = api.post("/care-plan-templates", {"content": own_content(HF)})
    assert clash.status_code == 409 and problem_fields(clash) == ["content.key"]


@pytest.mark.parametrize("who", ["cm", "scheduler"])
def test_the_api_lets_readers_read_but_not_write_403_audited(world, admin, who):
    services.create_template(admin, world.org, own_content())
    user = getattr(world, who)
    api = api_as(user)
    assert api.get("/care-plan-templates").status_code == 200
    assert api.get("/care-plan-templates/riverbend-cellulitis").status_code == 200
    before = template_rows(world.org)
    for method, path, body in (
        ("POST", f"/care-plan-templates/{HF}/copy", None),
        ("POST", "/care-plan-templates", {"content": own_content("x-new")}),
        ("PUT", "/care-plan-templates/riverbend-cellulitis", {"content": own_content()}),
    ):
        response = api.call(method, path, body)
        assert response.status_code == 403, (method, path)
        assert response["Content-Type"] == "application/problem+json"
    assert template_rows(world.org) == before
    assert (
        AuditEvent.objects.filter(
            actor_id=user.pk, action="careplan.template.change", outcome="denied"
        ).count()
        == 3
    )
    read_only_token = api_as(world.admin, scopes=("patients:read",))
    assert read_only_token.post(f"/care-plan-templates/{HF}/copy", None).status_code == 403


def test_the_api_answers_another_agencys_admin_404_and_lists_none_of_ours(
    world, admin, other_admin
):
    services.create_template(admin, world.org, own_content())
    theirs = api_as(other_admin)
    own = "/care-plan-templates/riverbend-cellulitis"
    assert theirs.get(own).status_code == 404
    put = theirs.put(own, {"content": own_content(), "version": 1})
    assert put.status_code == 404
    keys = {i["key"] for i in theirs.get("/care-plan-templates?limit=200").json()["items"]}
    assert "riverbend-cellulitis" not in keys and HF in keys
    assert template_rows(world.org) == [(1, True, True)]
    assert api_as(world.auditor).get("/care-plan-templates").status_code == 403
