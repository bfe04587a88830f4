"""An agency's own teaching handouts (issue 19: "a plain-language handout the agency can edit"):
the services that copy, create, save, retire and restore them (each a new version, audited, a
stale version a conflict, bad content refused naming every field by its path and writing
nothing), what the agency then gives (its copy in place of Careway's, for that agency only; a
retired one hides it), and the pages and JSON API with their three access tests: an admin can;
a case manager or the read-only scheduler reads but cannot write (403, audited); another
agency's admin gets 404 for this agency's own handout and does not see it listed."""

import copy
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from careway.careplans import handout_services as services
from careway.careplans import handouts
from careway.careplans.models import AgencyHandout
from careway.core import audit, tokens
from careway.core.conflicts import VersionConflict
from careway.core.models import AuditEvent, User
from careway.core.roles import Role
from tests.api.conftest import ApiClient, problem_fields
from tests.factories import make_user

pytestmark = pytest.mark.django_db

HF = "heart-failure-zones"
OWN = "riverbend-cast-care"
OUR_LINE = "Weigh yourself before breakfast, on the scale the nurse marked."
OUR_LINE_ES = "Pésese antes del desayuno, en la báscula que marcó la enfermera."


@pytest.fixture
def admin(world) -> audit.Actor:
    return audit.Actor(user=world.admin)


@pytest.fixture
def other_admin(world) -> User:
    return make_user(world.other_org, None, Role.AGENCY_ADMIN, "admin_other")


def shipped_content(key: str = HF) -> dict:
    return copy.deepcopy(handouts.shipped()[key].raw)


def own_content(key: str = OWN, spanish: bool = True) -> dict:
    content = {
        "key": key,
        "version": "1",
        "title": {"en": "Caring for your cast", "es": "Cómo cuidar su yeso"},
        "sections": [
            {
                "heading": {"en": "Keep it dry", "es": "Manténgalo seco"},
                "style": "list",
                "text": {
                    "en": ["Cover it with a bag when you wash."],
                    "es": ["Tápelo con una bolsa al bañarse."],
                },
            }
        ],
        "sources": [{"title": "Riverbend cast care protocol", "publisher": "Riverbend"}],
        "terms": "The agency's own protocol.",
    }
    if not spanish:
        content["title"] = {"en": "Caring for your cast"}
        content["sections"][0]["heading"] = {"en": "Keep it dry"}
        content["sections"][0]["text"] = {"en": ["Cover it with a bag when you wash."]}
    return content


def edited(content: dict, line: str = OUR_LINE, line_es: str = OUR_LINE_ES) -> dict:
    changed = copy.deepcopy(content)
    changed["sections"][0]["text"]["en"][0] = line
    changed["sections"][0]["text"]["es"][0] = line_es
    return changed


def rows(organization) -> list[tuple[int, bool, bool]]:
    found = AgencyHandout.objects.filter(organization=organization).order_by("key", "version")
    return list(found.values_list("version", "current", "active"))


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


# --- services ------------------------------------------------------------------------------------


def test_a_shipped_handout_is_copied_as_the_agencys_version_1_and_audited(world, admin):
    row = services.copy_handout(admin, world.org, HF)
    assert (row.version, row.current, row.active) == (1, True, True)
    assert row.copied_from == "heart-failure-zones@1" and row.changed_by == world.admin
    assert row.title == "Heart failure: know your zones"
    assert row.content == {**shipped_content(), "version": "1"}
    (event,) = events("careplan.handout.copy")
    assert event.organization_id == world.org.pk and event.patient_id is None
    assert event.object_id == str(row.pk) and event.detail["key"] == HF
    assert event.detail["copied_from"] == "heart-failure-zones@1"
    with pytest.raises(ValidationError) as again:
        services.copy_handout(admin, world.org, HF)
    assert list(again.value.message_dict) == ["key"]
    with pytest.raises(ValidationError) as unknown:
        services.copy_handout(admin, world.org, "no-such-handout")
    assert list(unknown.value.message_dict) == ["key"]
    assert rows(world.org) == [(1, True, True)]
    assert handouts.shipped()[HF].raw == shipped_content()


def test_saving_writes_the_next_version_that_the_agency_then_gives(world, admin):
    services.copy_handout(admin, world.org, HF)
    saved = services.save_handout(admin, world.org, HF, edited(shipped_content()), 1, "Our scale")
    assert rows(world.org) == [(1, False, True), (2, True, True)]
    assert saved.content["version"] == "2" and saved.note == "Our scale"
    given = handouts.handouts_for(world.org.pk)[HF]
    assert given.version == "2" and not given.shipped
    assert given.sections[0].text["es"][0] == OUR_LINE_ES
    # Another agency still gives Careway's.
    assert handouts.handouts_for(world.other_org.pk)[HF] == handouts.shipped()[HF]
    (event,) = events("careplan.handout.save")
    assert event.detail["version"] == 2 and event.detail["previous_version"] == 1
    # The same content again writes nothing.
    same = services.save_handout(admin, world.org, HF, saved.content, 2)
    assert same.pk == saved.pk and len(rows(world.org)) == 2


def test_bad_content_names_every_field_by_its_path_and_writes_nothing(world, admin):
    services.copy_handout(admin, world.org, HF)
    bad = shipped_content()
    bad["key"] = "another-key"
    bad["sections"][2]["text"]["es"] = "not a list"
    bad["sections"][0]["style"] = "table"
    bad["title"]["en"] = ""
    with pytest.raises(ValidationError) as refused:
        services.save_handout(admin, world.org, HF, bad, 1)
    assert set(refused.value.message_dict) == {
        "key",
        "sections[2].text.es",
        "sections[0].style",
        "title.en",
    }
    nul = shipped_content()
    nul["summary"]["es"] = "a\x00b"
    with pytest.raises(ValidationError) as stored:
        services.save_handout(admin, world.org, HF, nul, 1)
    assert list(stored.value.message_dict) == ["summary.es"]
    with pytest.raises(ValidationError) as long_note:
        services.save_handout(admin, world.org, HF, edited(shipped_content()), 1, "n" * 301)
    assert list(long_note.value.message_dict) == ["note"]
    assert rows(world.org) == [(1, True, True)]


def test_content_that_is_not_a_json_object_is_refused_by_the_service_and_the_editor(
    login, world, admin
):
    services.copy_handout(admin, world.org, HF)
    for content in ([1, 2], "a handout"):
        with pytest.raises(ValidationError) as refused:
            services.save_handout(admin, world.org, HF, content, 1)
        assert refused.value.message_dict == {"handout": ["A handout is a JSON object."]}
    response = login(world.admin).post(
        url("handout_edit", HF), {"content": "[1, 2]", "version": "1"}
    )
    assert response.status_code == 422
    assert "A handout is a JSON object." in response.content.decode()
    assert rows(world.org) == [(1, True, True)]


def test_a_stale_version_is_a_conflict_that_writes_nothing(world, admin):
    services.copy_handout(admin, world.org, HF)
    services.save_handout(admin, world.org, HF, edited(shipped_content()), 1)
    with pytest.raises(VersionConflict) as stale:
        services.save_handout(admin, world.org, HF, edited(shipped_content(), "Mine."), 1)
    assert stale.value.current.version == 2
    with pytest.raises(VersionConflict):
        services.retire_handout(admin, world.org, HF, 1)
    assert rows(world.org) == [(1, False, True), (2, True, True)]


def test_a_retired_copy_hides_the_shipped_handout_until_restored(world, admin):
    services.copy_handout(admin, world.org, HF)
    services.retire_handout(admin, world.org, HF, 1, "We teach from the clinic's sheet")
    assert rows(world.org) == [(1, False, True), (2, True, False)]
    assert HF not in handouts.handouts_for(world.org.pk)
    assert HF in handouts.handouts_for(world.other_org.pk)
    assert events("careplan.handout.retire")[0].detail["note"] == (
        "We teach from the clinic's sheet"
    )
    again = services.retire_handout(admin, world.org, HF, 2)
    assert again.version == 2
    services.restore_handout(admin, world.org, HF, 2)
    assert rows(world.org)[-1] == (3, True, True)
    assert handouts.handouts_for(world.org.pk)[HF].version == "3"


def test_an_agencys_own_handout_may_be_in_english_only_and_is_given_in_english(world, admin):
    row = services.create_handout(admin, world.org, own_content(spanish=False), "Committee")
    assert (row.key, row.version, row.title) == (OWN, 1, "Caring for your cast")
    handout = handouts.handouts_for(world.org.pk)[OWN]
    assert handout.languages == ("en",)
    assert handouts.language_for("es-MX", handout.languages) == "en"
    assert events("careplan.handout.create")[0].detail["note"] == "Committee"
    for taken in (own_content(), own_content(HF), own_content("new")):
        with pytest.raises(ValidationError) as refused:
            services.create_handout(admin, world.org, taken)
        assert list(refused.value.message_dict) == ["key"]


def test_only_the_agencys_admins_and_supervisors_change_its_handouts(world):
    supervisor = audit.Actor(user=world.supervisor)
    assert services.copy_handout(supervisor, world.org, HF).version == 1
    for who in (world.cm, world.scheduler, world.rn, world.auditor):
        with pytest.raises(PermissionDenied):
            services.copy_handout(audit.Actor(user=who), world.org, "low-blood-sugar")
    outsider_admin = make_user(world.other_org, None, Role.AGENCY_ADMIN, "admin_x")
    with pytest.raises(PermissionDenied):
        services.save_handout(audit.Actor(user=outsider_admin), world.org, HF, {}, 1)
    assert rows(world.org) == [(1, True, True)]


# --- pages ---------------------------------------------------------------------------------------


def url(name: str, key: str | None = None) -> str:
    return reverse(f"careplans:{name}", kwargs={"key": key} if key else None)


def test_the_list_shows_every_handout_in_both_languages(login, world, admin):
    services.copy_handout(admin, world.org, HF)
    services.retire_handout(admin, world.org, HF, 1)
    services.create_handout(admin, world.org, own_content(spanish=False))
    client = login(world.admin)
    response = client.get(url("handout_list"))
    assert response.status_code == 200
    page = response.content.decode()
    count = len(handouts.shipped()) + 1
    assert f"{count} handouts" in page and "Sorted by English title" in page
    titles = [e.title for e in response.context["entries"]]
    assert titles == sorted(titles, key=str.casefold)
    assert "Low blood sugar: the rule of 15" in page
    assert 'lang="es">Azúcar baja en la sangre: la regla del 15</a>' in page
    assert "No Spanish yet: given in English" in page  # the agency's own, English only
    assert "Retired" in page and url("handout_new") in page
    # The admin finds it from the links at the top of every page, beside the templates.
    account = client.get(reverse("account")).content.decode()
    assert f'href="{url("handout_list")}"' in account
    assert account.index(url("template_list")) < account.index(url("handout_list"))


@pytest.mark.parametrize("who", ["cm", "scheduler", "rn", "supervisor"])
def test_people_who_read_charts_read_the_handouts(login, world, admin, who):
    services.create_handout(admin, world.org, own_content())
    client = login(getattr(world, who))
    listing = client.get(url("handout_list"))
    assert listing.status_code == 200 and "Caring for your cast" in listing.content.decode()
    detail = client.get(url("handout_detail", OWN))
    assert detail.status_code == 200
    may_change = who == "supervisor"
    assert (url("handout_new") in listing.content.decode()) == may_change
    assert (url("handout_edit", OWN) in detail.content.decode()) == may_change


def test_someone_who_reads_no_charts_gets_404(login, world):
    client = login(world.auditor)
    assert client.get(url("handout_list")).status_code == 404
    assert client.get(url("handout_detail", HF)).status_code == 404


def test_a_handout_reads_as_the_patient_reads_it_in_english_or_spanish(login, world):
    client = login(world.cm)
    english = client.get(url("handout_detail", "low-blood-sugar"))
    assert english.status_code == 200
    page = english.content.decode()
    assert '<article class="handout-read" lang="en"' in page
    assert "Wait 15 minutes. Then check your blood sugar again." in page
    assert "diabetes.org" in page and "American Diabetes Association" in page
    spanish = client.get(url("handout_detail", "low-blood-sugar") + "?lang=es").content.decode()
    assert '<article class="handout-read" lang="es"' in spanish
    assert "Espere 15 minutos. Luego mídase el azúcar otra vez." in spanish
    assert 'aria-current="page" class="current">Español' in spanish
    # A language Careway does not write is shown in English.
    other = client.get(url("handout_detail", "low-blood-sugar") + "?lang=vi").content.decode()
    assert 'lang="en"' in other
    assert "Copy to edit" not in page
    admin_page = login(world.admin).get(url("handout_detail", HF)).content.decode()
    assert "Copy to edit" in admin_page and url("handout_copy", HF) in admin_page


def test_an_english_only_handout_says_so_in_spanish(login, world, admin):
    services.create_handout(admin, world.org, own_content(spanish=False))
    page = login(world.cm).get(url("handout_detail", OWN) + "?lang=es").content.decode()
    assert "has no Spanish yet" in page and '<article class="handout-read" lang="en"' in page


def test_an_agency_handout_page_lists_its_versions_and_shows_an_earlier_one(login, world, admin):
    services.copy_handout(admin, world.org, HF)
    services.save_handout(admin, world.org, HF, edited(shipped_content()), 1, "Our scale")
    client = login(world.admin)
    page = client.get(url("handout_detail", HF)).content.decode()
    assert "Versions (2)" in page and "Our scale" in page and OUR_LINE in page
    assert url("handout_edit", HF) in page and url("handout_retire", HF) in page
    older = client.get(url("handout_detail", HF) + "?version=1&lang=es").content.decode()
    assert "an earlier version" in older and OUR_LINE_ES not in older
    assert url("handout_edit", HF) not in older
    shipped = client.get(url("handout_detail", HF) + "?version=shipped").content.decode()
    assert "You are reading Careway's handout" in shipped
    for bad in ("7", "x", "99999999999"):
        assert client.get(url("handout_detail", HF) + f"?version={bad}").status_code == 404
    assert client.get(url("handout_detail", "no-such-handout")).status_code == 404


def test_copy_to_edit_makes_the_copy_and_opens_the_editor(login, world):
    client = login(world.admin)
    response = client.post(url("handout_copy", HF))
    assert response.status_code == 302 and response["Location"] == url("handout_edit", HF)
    editor = client.get(url("handout_edit", HF))
    assert editor.status_code == 200
    assert json.loads(editor.context["form"]["content"].value()) == {
        **shipped_content(),
        "version": "1",
    }
    again = client.post(url("handout_copy", HF), follow=True)
    assert "Not copied" in again.content.decode()
    assert rows(world.org) == [(1, True, True)]


def test_the_editor_lists_every_field_at_fault_above_the_text_and_keeps_it(login, world, admin):
    row = services.copy_handout(admin, world.org, HF)
    bad = copy.deepcopy(row.content)
    del bad["sections"][2]["text"]["es"]
    bad["sections"][1]["text"]["en"][0] = 7
    typed = json.dumps(bad, indent=1, ensure_ascii=False)
    client = login(world.admin)
    response = client.post(url("handout_edit", HF), {"content": typed, "version": "1"})
    assert response.status_code == 422
    page = response.content.decode()
    problems, box = page.index('id="handout-problems"'), page.index('<textarea name="content"')
    assert problems < box
    assert '<span class="code">sections[1].text.en[0]</span>: ' in page[problems:box]
    assert '<span class="code">sections[2].text</span>: ' in page[problems:box]
    assert response.context["form"]["content"].value() == typed
    assert rows(world.org) == [(1, True, True)]
    not_json = client.post(url("handout_edit", HF), {"content": "{oops", "version": "1"})
    assert not_json.status_code == 422
    assert "Not valid JSON: line 1, column 2" in not_json.content.decode()


def test_a_save_over_someone_elses_is_a_conflict_that_keeps_what_was_typed(login, world, admin):
    services.copy_handout(admin, world.org, HF)
    client = login(world.admin)
    opened = client.get(url("handout_edit", HF)).context["form"]["version"].value()
    supervisor = audit.Actor(user=world.supervisor)
    services.save_handout(supervisor, world.org, HF, edited(shipped_content()), 1, "Sato")
    mine = json.dumps(edited(shipped_content(), "My own words.", "Mis palabras."))
    response = client.post(
        url("handout_edit", HF), {"content": mine, "note": "Mine", "version": opened}
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "someone else saved this handout" in page and "saved version 2" in page
    form = response.context["form"]
    assert form["content"].value() == mine and form["version"].value() == 2
    assert rows(world.org) == [(1, False, True), (2, True, True)]
    saved = client.post(url("handout_edit", HF), {"content": mine, "version": 2})
    assert saved.status_code == 302
    assert AgencyHandout.objects.get(organization=world.org, key=HF, current=True).version == 3


def test_a_new_handout_starts_from_a_skeleton_that_names_what_to_fill_in(login, world):
    client = login(world.admin)
    opened = client.get(url("handout_new"))
    assert opened.status_code == 200
    response = client.post(
        url("handout_new"), {"content": opened.context["form"]["content"].value()}
    )
    assert response.status_code == 422
    named = {where for _, where, _ in response.context["form"].problems()}
    assert {"key", "title.en", "sections[0].heading.en", "sources[0].title"} <= named
    created = client.post(url("handout_new"), {"content": json.dumps(own_content())})
    assert created.status_code == 302 and created["Location"] == url("handout_detail", OWN)


def test_retire_and_restore_from_the_page(login, world, admin):
    services.copy_handout(admin, world.org, HF)
    client = login(world.admin)
    client.post(url("handout_retire", HF), {"version": "1", "note": "Not used"})
    assert rows(world.org) == [(1, False, True), (2, True, False)]
    page = client.get(url("handout_detail", HF)).content.decode()
    assert "This handout is retired" in page and url("handout_restore", HF) in page
    stale = client.post(url("handout_restore", HF), {"version": "1"}, follow=True)
    assert "Not restored: someone else changed" in stale.content.decode()
    client.post(url("handout_restore", HF), {"version": "2"})
    assert rows(world.org)[-1] == (3, True, True)


WRITES = [
    ("handout_copy", HF, {}),
    ("handout_edit", HF, {"content": "{}", "version": "1"}),
    ("handout_retire", HF, {"version": "1"}),
    ("handout_restore", HF, {"version": "1"}),
    ("handout_new", None, {"content": json.dumps(own_content())}),
]


@pytest.mark.parametrize(("name", "key", "data"), WRITES, ids=[w[0] for w in WRITES])
@pytest.mark.parametrize("who", ["cm", "scheduler"])
def test_a_case_manager_or_read_only_member_cannot_write_403_audited(
    login, world, admin, name, key, data, who
):
    if name != "handout_copy":
        services.copy_handout(admin, world.org, HF)
    before = rows(world.org)
    user = getattr(world, who)
    response = login(user).post(url(name, key), data)
    assert response.status_code == 403
    assert rows(world.org) == before
    assert AuditEvent.objects.filter(
        actor_id=user.pk, action="careplan.handout.change", outcome="denied"
    ).exists()
    if name in ("handout_edit", "handout_new"):
        assert login(user).get(url(name, key)).status_code == 403


@pytest.mark.parametrize(("name", "key", "data"), WRITES[:4], ids=[w[0] for w in WRITES[:4]])
def test_another_agencys_admin_gets_404_for_this_agencys_own_handout(
    login, world, admin, other_admin, name, key, data
):
    services.create_handout(admin, world.org, own_content())
    client = login(other_admin)
    before = rows(world.org)
    assert client.get(url("handout_detail", OWN)).status_code == 404
    assert client.post(url(name, OWN), data).status_code == 404
    assert rows(world.org) == before and rows(world.other_org) == []
    listing = client.get(url("handout_list")).content.decode()
    assert "Caring for your cast" not in listing
    assert f"{len(handouts.shipped())} handouts" in listing


def test_the_list_reads_in_the_same_queries_however_many_handouts_the_agency_has(
    login, world, admin
):
    client = login(world.admin)
    services.copy_handout(admin, world.org, HF)
    client.get(url("handout_list"))  # the session's first request reads more
    with CaptureQueriesContext(connection) as one:
        client.get(url("handout_list"))
    for key in ("low-blood-sugar", "inhaler-use", "infection-signs"):
        services.copy_handout(admin, world.org, key)
    services.create_handout(admin, world.org, own_content())
    with CaptureQueriesContext(connection) as five:
        client.get(url("handout_list"))
    assert len(five) == len(one)


# --- the JSON API --------------------------------------------------------------------------------


def api_as(user: User, scopes=("patients:read", "patients:write")) -> ApiClient:
    raw, _ = tokens.create_token(audit.Actor.system(), user, "test", scopes, 30)
    return ApiClient(Client(), raw)


def test_the_api_lists_every_handout_with_its_languages(world, admin):
    services.create_handout(admin, world.org, own_content(spanish=False))
    body = api_as(world.admin).get("/handouts?limit=200").json()
    assert body["count"] == len(handouts.shipped()) + 1
    titles = [item["title"] for item in body["items"]]
    assert titles == sorted(titles, key=str.casefold)
    own = next(i for i in body["items"] if i["key"] == OWN)
    assert own == {
        "key": OWN,
        "title": "Caring for your cast",
        "titles": {"en": "Caring for your cast"},
        "languages": ["en"],
        "origin": "own",
        "version": "1",
        "in_use": True,
        "agency_version": 1,
        "active": True,
        "shipped_version": None,
    }
    sugar = next(i for i in body["items"] if i["key"] == "low-blood-sugar")
    assert sugar["languages"] == ["en", "es"] and sugar["titles"]["es"].startswith("Azúcar")
    paged = api_as(world.cm).get("/handouts?limit=3").json()
    assert len(paged["items"]) == 3 and "offset=3" in paged["next"]


def test_the_api_copies_replaces_retires_and_restores_with_a_version(world):
    api = api_as(world.admin)
    shipped = api.get(f"/handouts/{HF}")
    assert shipped.status_code == 200 and "ETag" not in shipped
    assert shipped.json()["origin"] == "shipped" and shipped.json()["content"]["key"] == HF
    copied = api.post(f"/handouts/{HF}/copy", None)
    assert copied.status_code == 201 and copied["ETag"] == '"1"'
    assert copied["Location"] == f"/api/v1/handouts/{HF}"
    again = api.post(f"/handouts/{HF}/copy", None)
    assert again.status_code == 409 and problem_fields(again) == ["key"]
    body = {"content": edited(shipped_content()), "note": "Our scale"}
    assert api.put(f"/handouts/{HF}", body).status_code == 428
    replaced = api.put(f"/handouts/{HF}", body, **{"If-Match": '"1"'})
    assert replaced.status_code == 200 and replaced["ETag"] == '"2"'
    assert replaced.json()["versions"][0]["note"] == "Our scale"
    stale = api.put(f"/handouts/{HF}", {**body, "version": 1})
    assert stale.status_code == 412 and stale.json()["current_version"] == 2
    retired = api.post(f"/handouts/{HF}/retire", {"version": 2, "note": "Clinic sheet"})
    assert retired.status_code == 200 and retired.json()["in_use"] is False
    # A stale version named in the body of a POST is a conflict (409), as elsewhere in the API.
    assert api.post(f"/handouts/{HF}/restore", {"version": 2}).status_code == 409
    restored = api.post(f"/handouts/{HF}/restore", {}, **{"If-Match": '"3"'})
    assert restored.status_code == 200 and restored.json()["agency_version"] == 4
    assert [e.action for e in AuditEvent.objects.filter(action__startswith="careplan.handout")] == [
        "careplan.handout.copy",
        "careplan.handout.save",
        "careplan.handout.retire",
        "careplan.handout.restore",
    ]


def test_the_api_names_each_bad_field_inside_content_and_never_fails(world, admin):
    services.copy_handout(admin, world.org, HF)
    api = api_as(world.admin)
    bad = shipped_content()
    bad["sections"][3]["text"]["es"] = []
    bad["key"] = "another"
    response = api.put(f"/handouts/{HF}", {"content": bad, "version": 1})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert set(problem_fields(response)) == {"content.sections[3].text.es", "content.key"}
    raw = Client().put(
        f"/api/v1/handouts/{HF}",
        data='{"version": 1, "content": {"title": NaN}}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert raw.status_code == 422 and problem_fields(raw) == ["content.title"]
    assert rows(world.org) == [(1, True, True)]
    assert (
        api.put("/handouts/inhaler-use", {"content": shipped_content("inhaler-use")}).status_code
        == 404
    )
    assert api.get("/handouts/Not_A_Key").status_code == 422
    created = api.post("/handouts", {"content": own_content(), "note": "Committee"})
    assert created.status_code == 201 and created.json()["origin"] == "own"
    clash = api.post("/handouts", {"content": own_content(HF)})
    assert clash.status_code == 409 and problem_fields(clash) == ["content.key"]


@pytest.mark.parametrize("who", ["cm", "scheduler"])
def test_the_api_lets_readers_read_but_not_write_403_audited(world, admin, who):
    services.create_handout(admin, world.org, own_content())
    user = getattr(world, who)
    api = api_as(user)
    assert api.get("/handouts").status_code == 200
    assert api.get(f"/handouts/{OWN}").status_code == 200
    before = rows(world.org)
    writes = (
        ("POST", f"/handouts/{HF}/copy", None),
        ("POST", "/handouts", {"content": own_content("x-new")}),
        ("PUT", f"/handouts/{OWN}", {"content": own_content(), "version": 1}),
        ("POST", f"/handouts/{OWN}/retire", {"version": 1}),
        ("POST", f"/handouts/{OWN}/restore", {"version": 1}),
    )
    for method, path, body in writes:
        response = api.call(method, path, body)
        assert response.status_code == 403, (method, path)
        assert response["Content-Type"] == "application/problem+json"
    assert rows(world.org) == before
    denied = AuditEvent.objects.filter(
        actor_id=user.pk, action="careplan.handout.change", outcome="denied"
    )
    assert denied.count() == len(writes)
    read_only_token = api_as(world.admin, scopes=("patients:read",))
    assert read_only_token.post(f"/handouts/{HF}/copy", None).status_code == 403


def test_the_api_answers_another_agencys_admin_404_and_lists_none_of_ours(
    world, admin, other_admin
):
    services.create_handout(admin, world.org, own_content())
    theirs = api_as(other_admin)
    assert theirs.get(f"/handouts/{OWN}").status_code == 404
    assert (
        theirs.put(f"/handouts/{OWN}", {"content": own_content(), "version": 1}).status_code == 404
    )
    assert theirs.post(f"/handouts/{OWN}/retire", {"version": 1}).status_code == 404
    keys = {i["key"] for i in theirs.get("/handouts?limit=200").json()["items"]}
    assert OWN not in keys and HF in keys
    assert rows(world.org) == [(1, True, True)] and rows(world.other_org) == []
    assert api_as(world.auditor).get("/handouts").status_code == 403
