"""The agency's details page: an agency admin changes the phones, address and order signature
deadline (audited, before and after); others get 404 (the page is not theirs to know); another
agency's admin changes only their own; a stale edit is a conflict; bad input is named."""

from careway.core.models import AuditEvent, Membership, Organization
from careway.core.roles import Role
from careway.core.services import agency_details_version
from tests.factories import make_user

URL = "/agency/details/"


def _post(client, org, **extra):
    data = {
        "phone": "217-555-0199",
        "after_hours_phone": "217-555-0111",
        "address": "88 River Road, Springfield, IL 62702",
        "order_signature_days": "14",
        "version": agency_details_version(org),
        **extra,
    }
    return client.post(URL, data)


def test_an_admin_changes_the_deadline_audited(login, world):
    client = login(world.admin)
    assert client.get(URL).status_code == 200
    assert _post(client, world.org).status_code == 302
    org = Organization.objects.get(pk=world.org.pk)
    assert (org.order_signature_days, org.after_hours_phone) == (14, "217-555-0111")
    event = AuditEvent.objects.get(action="agency.details.update")
    assert event.detail["changed"]["order_signature_days"] == [30, 14]
    assert event.actor_id == world.admin.pk


def test_others_cannot_see_or_change_it(login, world):
    for user in (world.cm, world.supervisor, world.scheduler):
        client = login(user)
        assert client.get(URL).status_code == 404
        assert _post(client, world.org).status_code == 404
    assert Organization.objects.get(pk=world.org.pk).order_signature_days == 30


def test_another_agencys_admin_changes_only_their_own(login, world):
    other_admin = make_user(world.other_org, None, Role.AGENCY_ADMIN, "admin_olga")
    assert Membership.objects.filter(user=other_admin).exists()
    client = login(other_admin)
    assert _post(client, world.other_org).status_code == 302
    assert Organization.objects.get(pk=world.org.pk).order_signature_days == 30
    assert Organization.objects.get(pk=world.other_org.pk).order_signature_days == 14


def test_a_stale_edit_is_a_conflict_and_bad_days_are_named(login, world):
    client = login(world.admin)
    stale = _post(client, world.org, version=1)
    assert stale.status_code == 409
    bad = _post(client, world.org, order_signature_days="0")
    assert bad.status_code == 422 and "order_signature_days" in bad.context["form"].errors
    assert Organization.objects.get(pk=world.org.pk).order_signature_days == 30
