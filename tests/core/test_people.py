"""People admin: only agency admins, only their own agency, every change audited."""

import pytest
from django.urls import reverse
from django.utils import timezone

from careway.core.models import AuditEvent, Membership, User, UserSession
from careway.core.roles import Role
from tests.factories import make_user

pytestmark = pytest.mark.django_db
NOT_ADMINS = ["supervisor", "cm", "cm_other", "rn", "scheduler", "auditor", "outsider"]
NEW_PERSON = {
    "username": "lpn_lopez",
    "first_name": "Lena",
    "last_name": "Lopez",
    "email": "lena@example.org",
    "role": Role.CLINICIAN,
    "discipline": "LPN",
    "password": "a-long-and-unusual-passphrase-7",
}


def pages(world):
    return [
        reverse("user_list"),
        reverse("user_create"),
        reverse("user_detail", args=[world.cm.pk]),
    ]


def writes(world):
    """Every write of people admin, as (url, form data)."""
    membership = world.cm.memberships.get()
    return [
        (reverse("user_create"), {**NEW_PERSON, "branch": world.branch.pk}),
        (reverse("user_role_add", args=[world.cm.pk]), {"role": Role.SUPERVISOR, "branch": ""}),
        (reverse("user_role_remove", args=[world.cm.pk, membership.pk]), {}),
        (reverse("user_action", args=[world.cm.pk, "deactivate"]), {}),
        (reverse("user_action", args=[world.cm.pk, "unlock"]), {}),
        (reverse("user_action", args=[world.cm.pk, "reset-two-factor"]), {}),
    ]


def snapshot():
    return (
        User.objects.count(),
        list(Membership.objects.order_by("pk").values_list("active", flat=True)),
        list(User.objects.order_by("pk").values_list("is_active", flat=True)),
        AuditEvent.objects.exclude(action__startswith="patient.").count(),
    )


def test_anonymous_is_sent_to_sign_in(client, world):
    for url in pages(world):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
    before = snapshot()
    for url, data in writes(world):
        assert client.post(url, data).status_code == 302
    assert snapshot() == before


def test_agency_admin_sees_every_page(login, world):
    client = login(world.admin)
    for url in pages(world):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("who", NOT_ADMINS)
def test_everyone_else_gets_404_and_changes_nothing(login, world, who):
    client = login(world.users()[who])
    for url in pages(world):
        assert client.get(url).status_code == 404, url
    before = snapshot()
    for url, data in writes(world):
        assert client.post(url, data).status_code == 404, url
    assert snapshot() == before


def test_another_agencys_admin_gets_404_for_our_people(login, world):
    their_admin = make_user(world.other_org, None, Role.AGENCY_ADMIN, "admin_other")
    client = login(their_admin)
    assert client.get(reverse("user_detail", args=[world.cm.pk])).status_code == 404
    before = snapshot()
    for url, data in writes(world)[1:]:
        assert client.post(url, data).status_code == 404, url
    assert snapshot() == before
    listed = client.get(reverse("user_list")).context["rows"]
    assert {row["person"] for row in listed} == {their_admin, world.outsider}


def test_list_shows_roles_branch_discipline_status_and_two_factor(login, world):
    User.objects.filter(pk=world.auditor.pk).update(
        totp_secret="JBSWY3DPEHPK3PXP", totp_confirmed_at=timezone.now()
    )
    page = login(world.admin).get(reverse("user_list"))
    html = page.content.decode()
    assert "7 active people, sorted by last name" in html
    rows = {row["person"].username: row for row in page.context["rows"]}
    assert rows["cm_rivera"]["roles"] == ["Case manager"]
    assert rows["cm_rivera"]["branches"] == [world.branch.name]
    assert rows["cm_rivera"]["disciplines"] == ["RN"]
    assert rows["aud_adams"]["two_factor_on"] is True
    assert rows["sup_sato"]["two_factor_required"] and not rows["sup_sato"]["two_factor_on"]
    assert "cm_bauer" not in rows


def test_list_query_count_does_not_grow_with_people(login, world, django_assert_max_num_queries):
    client = login(world.admin)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("user_list"))
    for n in range(15):
        make_user(world.org, world.branch, Role.CLINICIAN, f"aide_{n}", "HHA")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("user_list"))


def test_search_and_status_filter(login, world):
    client = login(world.admin)
    User.objects.filter(pk=world.rn.pk).update(is_active=False)
    found = client.get(reverse("user_list"), {"q": "okafor"}).context["rows"]
    assert [r["person"] for r in found] == [world.cm_other]
    gone = client.get(reverse("user_list"), {"status": "inactive"}).context["rows"]
    assert [r["person"] for r in gone] == [world.rn]


def test_admin_creates_a_person_with_a_role(login, world):
    client = login(world.admin)
    response = client.post(reverse("user_create"), {**NEW_PERSON, "branch": world.branch.pk})
    person = User.objects.get(username="lpn_lopez")
    assert response.url == reverse("user_detail", args=[person.pk])
    assert person.organization == world.org
    assert person.check_password(NEW_PERSON["password"])
    assert person.roles == {Role.CLINICIAN}
    event = AuditEvent.objects.get(action="user.create")
    assert event.actor_id == world.admin.pk and event.object_id == str(person.pk)
    assert event.detail["roles"] == [f"clinician@{world.branch.name} (LPN)"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"password": "short"}, "password", "at least 12 characters"),
        ({"password": "cookiemonster"}, "password", "too common"),
        ({"username": "CM_RIVERA"}, "username", "taken"),
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"role": Role.SUPERVISOR, "branch": ""}, "branch", "branch this supervisor"),
    ],
)
def test_create_refuses_bad_input_naming_the_field(login, world, change, field, message):
    client = login(world.admin)
    before = User.objects.count()
    data = {**NEW_PERSON, "branch": world.branch.pk, **change}
    response = client.post(reverse("user_create"), data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert f'aria-describedby="id_{field}' in response.content.decode()
    assert User.objects.count() == before


def test_create_refuses_another_agencys_branch(login, world):
    client = login(world.admin)
    response = client.post(reverse("user_create"), {**NEW_PERSON, "branch": world.other_branch.pk})
    assert response.status_code == 400 and "branch" in response.context["form"].errors
    assert not User.objects.filter(username="lpn_lopez").exists()


def test_role_changes_are_audited_with_before_and_after(login, world):
    client = login(world.admin)
    client.post(
        reverse("user_role_add", args=[world.cm.pk]),
        {"role": Role.SUPERVISOR, "branch": world.branch.pk, "discipline": "RN"},
    )
    assert world.cm.memberships.filter(active=True).count() == 2
    added = AuditEvent.objects.get(action="role.change")
    assert added.detail["before"] == [f"case_manager@{world.branch.name} (RN)"]
    assert added.detail["after"] == [
        f"case_manager@{world.branch.name} (RN)",
        f"supervisor@{world.branch.name} (RN)",
    ]
    old = world.cm.memberships.get(role=Role.CASE_MANAGER)
    client.post(reverse("user_role_remove", args=[world.cm.pk, old.pk]))
    removed = AuditEvent.objects.filter(action="role.change").order_by("-id").first()
    assert removed.detail["after"] == [f"supervisor@{world.branch.name} (RN)"]
    old.refresh_from_db()
    assert old.active is False


def test_an_admin_cannot_remove_their_own_admin_role_or_deactivate_themselves(login, world):
    client = login(world.admin)
    own = world.admin.memberships.get()
    client.post(reverse("user_role_remove", args=[world.admin.pk, own.pk]))
    client.post(reverse("user_action", args=[world.admin.pk, "deactivate"]))
    own.refresh_from_db()
    world.admin.refresh_from_db()
    assert own.active and world.admin.is_active
    assert not AuditEvent.objects.filter(action__in=["role.change", "user.deactivate"]).exists()


def test_unlock_reset_two_factor_deactivate_and_reactivate(login, world):
    client = login(world.admin)
    User.objects.filter(pk=world.cm.pk).update(
        locked_until=timezone.now() + timezone.timedelta(minutes=10),
        failed_login_count=3,
        totp_secret="JBSWY3DPEHPK3PXP",
        totp_confirmed_at=timezone.now(),
    )
    UserSession.objects.create(user=world.cm, session_key="k" * 32)
    for action in ("unlock", "reset-two-factor", "deactivate"):
        client.post(reverse("user_action", args=[world.cm.pk, action]))
    world.cm.refresh_from_db()
    assert world.cm.locked_until is None and world.cm.totp_secret == ""
    assert world.cm.is_active is False
    assert not UserSession.objects.filter(user=world.cm).exists()
    client.post(reverse("user_action", args=[world.cm.pk, "reactivate"]))
    world.cm.refresh_from_db()
    assert world.cm.is_active
    actions = list(
        AuditEvent.objects.filter(object_id=str(world.cm.pk), action__startswith="user.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "user.unlock",
        "user.two_factor_reset",
        "user.deactivate",
        "user.reactivate",
    ]


def test_unknown_action_is_404(login, world):
    client = login(world.admin)
    assert client.post(reverse("user_action", args=[world.cm.pk, "promote"])).status_code == 404
