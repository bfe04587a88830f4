"""The demo agencies and their people, created through the audited people services."""

from dataclasses import dataclass
from typing import Any

import pyotp
from django.db import transaction

from careway.core import audit
from careway.core import services as people_services
from careway.core.models import Branch, Organization, User
from careway.core.roles import Role

from . import content


@dataclass
class DemoAgency:
    organization: Organization
    branch: Branch
    staff: dict[str, User]  # by username
    spec: dict[str, Any]

    def staff_with(self, role: str, discipline: str = "") -> list[User]:
        specs = [s for s in self.spec["staff"] if s["role"] == role]
        if discipline:
            specs = [s for s in specs if s["discipline"] == discipline]
        return [self.staff[s["username"]] for s in specs]


def demo_actor(organization: Organization) -> audit.Actor:
    return audit.Actor.system(via="demo", organization_id=organization.pk)


@transaction.atomic
def create_agency(spec: dict[str, Any]) -> DemoAgency:
    """The agency, its one branch and one person for every role, 2FA set up where required."""
    organization = Organization.objects.create(
        name=spec["name"],
        slug=spec["slug"],
        timezone=spec["timezone"],
        is_demo=True,
        **spec["contact"],
    )
    branch = Branch.objects.create(organization=organization, **spec["branch"])
    actor = demo_actor(organization)
    audit.record(actor, "organization.create", obj=organization, detail={"demo": True})
    staff = {s["username"]: _create_person(actor, branch, s) for s in spec["staff"]}
    return DemoAgency(organization, branch, staff, spec)


def _create_person(actor: audit.Actor, branch: Branch, person: dict[str, Any]) -> User:
    agency_wide = person["role"] in {Role.AGENCY_ADMIN, Role.AUDITOR}
    role = people_services.RoleSpec(
        role=person["role"],
        branch=None if agency_wide else branch,
        discipline=person["discipline"],
    )
    data = {k: person[k] for k in ("username", "first_name", "last_name")}
    data["email"] = f"{person['username']}@demo.careway.invalid"
    user = people_services.create_user(actor, data, content.demo_password(), role)
    if secret := person.get("totp_secret"):
        # The documented secret, confirmed with its current code as a person would with the app.
        confirmed = people_services.enrol_two_factor(
            actor, user, secret, pyotp.TOTP(secret).now(), during_sign_in=False
        )
        if not confirmed:
            raise RuntimeError(f"Could not confirm the demo TOTP secret of {user.username}")
    return user


def load_agency(spec: dict[str, Any]) -> DemoAgency | None:
    organization = Organization.objects.filter(slug=spec["slug"], is_demo=True).first()
    if organization is None:
        return None
    branch = Branch.objects.get(organization=organization, name=spec["branch"]["name"])
    usernames = [s["username"] for s in spec["staff"]]
    staff = {u.username: u for u in User.objects.filter(username__in=usernames)}
    return DemoAgency(organization, branch, staff, spec)
