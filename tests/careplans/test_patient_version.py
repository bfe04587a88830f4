"""The patient's version of the care plan (careway/careplans/patient_version.py and
version_views.py): what it says and in which order, frequencies in words in English and Spanish,
the language chosen from the patient's preferred language, the PDF read back, the three access
tests with the reads and exports audited, and the reading level of the texts Careway writes."""

import json
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from careway.careplans import patient_version, services
from careway.careplans.models import CarePlan, DisciplineFrequency, Intervention
from careway.careplans.patient_version import build_version, frequency_in_words
from careway.core import audit
from careway.core.models import AuditEvent, Organization
from careway.patients import services as patient_services
from careway.patients.models import Patient
from careway.toolkit.pdf import PdfUnavailable, pdf_text
from tests.careplans import readability

pytestmark = pytest.mark.django_db

DAY_PHONE = "(555) 010-2000"
NIGHT_PHONE = "(555) 010-2999"

# What the team types, as a team would type it.
REALISTIC = {
    "goals": [
        ("Stay out of the hospital", "No hospital stays for 60 days"),
        ("Walk to church by Easter", "Walks 150 feet with a cane"),
        ("", "Weight within 2 lb of dry weight"),
        ("Know what to do when my sugar is low", "Treats low blood sugar by the rule of 15"),
    ],
    "nurse": ["Teach daily weights and the heart failure zones", "Check the blood sugar log"],
    "aide": "Help with bathing and dressing",
    "caregiver_name": "June Hale",
    "caregiver": "Help with the morning weight and the log",
    "patient": "Weigh yourself every morning before breakfast and write it down",
}


# --- building a plan -----------------------------------------------------------------------------


@pytest.fixture
def actor(world):
    return audit.Actor(user=world.cm)


@pytest.fixture
def agency_phones(world):
    Organization.objects.filter(pk=world.org.pk).update(
        phone=DAY_PHONE, after_hours_phone=NIGHT_PHONE
    )


def heart_failure_and_diabetes(actor, patient):
    for display, code in (("Heart failure", "84114007"), ("Diabetes mellitus type 2", "44054006")):
        patient_services.add_condition(
            actor,
            patient,
            {"display": display, "code_system": "http://snomed.info/sct", "code": code},
        )


def make_plan(world, actor, typed=REALISTIC, active=True):
    """A plan for heart failure and diabetes: 4 goals, interventions for the nurse (one with
    its own frequency), the aide, a family caregiver and the patient themself (with a daily
    frequency of its own), and the nurse's and aide's visits."""
    patient = world.patient
    heart_failure_and_diabetes(actor, patient)
    caregiver = patient_services.add_contact(
        actor, patient, {"name": typed["caregiver_name"], "relationship": "child"}
    )
    plan = services.start_plan(actor, patient)
    for words, description in typed["goals"]:
        services.add_goal(actor, plan, {"patient_words": words, "description": description})
    first, second = typed["nurse"]
    services.add_intervention(actor, plan, {"kind": "teach", "text": first, "discipline": "RN"})
    services.add_intervention(
        actor,
        plan,
        {"kind": "monitor", "text": second, "discipline": "RN", "frequency": "PRN x2"},
    )
    services.add_intervention(actor, plan, {"kind": "perform", "text": typed["aide"],
                                            "discipline": "HHA"})  # fmt: skip
    services.add_intervention(
        actor, plan, {"kind": "perform", "text": typed["caregiver"], "caregiver": caregiver.pk}
    )
    services.add_intervention(
        actor,
        plan,
        {"kind": "monitor", "text": typed["patient"], "by_patient": True, "frequency": "qd x30"},
    )
    services.set_frequency(actor, plan, {"discipline": "HHA", "frequency": "2w4"})
    services.set_frequency(actor, plan, {"discipline": "RN", "frequency": "3w1, 2w4"})
    if active:
        plan.refresh_from_db()
        plan = services.update_plan(actor, plan, {"status": "active"}, plan.version)
    plan.refresh_from_db()
    return plan


def page(patient, lang=None):
    address = reverse("careplans:patient_version", args=[patient.pk])
    return f"{address}?lang={lang}" if lang else address


def pdf(patient, lang=None):
    address = reverse("careplans:patient_version_pdf", args=[patient.pk])
    return f"{address}?lang={lang}" if lang else address


def set_language(patient, tag):
    # Setting up the chart, not the behaviour under test.
    Patient.objects.filter(pk=patient.pk).update(preferred_language=tag)


# --- frequencies in words ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "english", "spanish"),
    [
        (
            "3w1, 2w4",
            "3 times a week for 1 week, then 2 times a week for 4 weeks",
            "3 veces por semana durante 1 semana, luego 2 veces por semana durante 4 semanas",
        ),
        ("1w2", "once a week for 2 weeks", "1 vez por semana durante 2 semanas"),
        ("1m2", "once a month for 2 months", "1 vez al mes durante 2 meses"),
        ("2m1", "2 times a month for 1 month", "2 veces al mes durante 1 mes"),
        ("qd x5", "every day for 5 days", "todos los días durante 5 días"),
        ("qd x1", "every day for 1 day", "todos los días durante 1 día"),
        ("PRN x1", "when needed, up to 1 visit", "cuando haga falta, hasta 1 visita"),
        (
            "PRN x2 for dyspnea",
            "when needed, up to 2 visits, for dyspnea",
            # The reason is the team's words, shown as typed.
            "cuando haga falta, hasta 2 visitas, por: dyspnea",
        ),
        (
            "2w3, PRN x3",
            "2 times a week for 3 weeks; and also when needed, up to 3 visits",
            "2 veces por semana durante 3 semanas; y también cuando haga falta, hasta 3 visitas",
        ),
        (
            "qd x3, 1w2",
            "every day for 3 days, then once a week for 2 weeks",
            "todos los días durante 3 días, luego 1 vez por semana durante 2 semanas",
        ),
    ],
)
def test_a_frequency_in_words_in_english_and_spanish(text, english, spanish):
    assert frequency_in_words(text, "en") == english
    assert frequency_in_words(text, "es") == spanish


def test_a_frequency_the_parser_cannot_read_says_nothing():
    assert frequency_in_words("twice weekly", "en") == ""
    assert frequency_in_words("", "es") == ""


# --- the words file ------------------------------------------------------------------------------


def _placeholders(value):
    import string

    texts = value if isinstance(value, list) else [value]
    return {name for text in texts for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_text_is_in_english_and_spanish_with_the_same_placeholders():
    shipped = json.loads(patient_version.WORDS_FILE.read_text(encoding="utf-8"))
    english, spanish = shipped["languages"]["en"], shipped["languages"]["es"]
    assert set(english) == set(spanish)
    for key in english:
        assert english[key] and spanish[key], key
        assert _placeholders(english[key]) == _placeholders(spanish[key]), key
    assert len(english["months"]) == len(spanish["months"]) == 12
    assert shipped["how_written"], "the file says how its texts were written"


@pytest.mark.parametrize(
    ("preferred", "asked", "expected"),
    [
        ("es-MX", None, ("es", False)),
        ("es", None, ("es", False)),
        ("vi", None, ("en", False)),  # no Vietnamese yet: English, as nobody asked otherwise
        ("es-MX", "en", ("en", False)),  # the nurse switched to English
        ("en", "ES", ("es", False)),
        ("en", "fr", ("en", True)),  # asked for and missing: English, with a note
    ],
)
def test_the_language_of_the_version(preferred, asked, expected):
    assert patient_version.language_of(Patient(preferred_language=preferred), asked) == expected


# --- what the version says -----------------------------------------------------------------------


def test_the_version_says_goals_who_visits_and_whom_to_call(world, actor, agency_phones):
    plan = make_plan(world, actor)
    version = build_version(plan, "en")

    assert version.title == "My care plan at home"
    assert version.for_line == "For Margaret Hale"
    assert version.revision == plan.revision
    assert version.revision_line.startswith(f"Plan version {plan.revision}, ")
    # The patient's words where the team wrote them down, else the goal.
    assert version.goals == (
        "Stay out of the hospital",
        "Walk to church by Easter",
        "Weight within 2 lb of dry weight",
        "Know what to do when my sugar is low",
    )
    # What the patient does themself first, right after their goals.
    assert [(g.title, [t.text for t in g.tasks]) for g in version.groups] == [
        ("You", [REALISTIC["patient"]]),
        ("Your nurse", REALISTIC["nurse"]),
        ("Your home health aide", [REALISTIC["aide"]]),
        ("June Hale, who helps you", [REALISTIC["caregiver"]]),
    ]
    you, nurse = version.groups[:2]
    assert you.key == "who_patient"
    assert you.tasks[0].how_often == "How often: every day for 30 days."
    assert [t.how_often for t in nurse.tasks] == ["", "How often: when needed, up to 2 visits."]
    assert version.visits[0].startswith(
        "Your nurse will come 3 times a week for 1 week, then 2 times a week for 4 weeks. "
        "This starts on "
    )
    assert version.visits[1].startswith("Your home health aide will come 2 times a week for 4")
    assert [flags.key for flags in version.red_flags] == ["general", "heart-failure", "diabetes"]
    assert tuple(map(str, version.phones)) == (
        f"Our phone: {DAY_PHONE}",
        f"Nights and weekends: {NIGHT_PHONE}",
        "Emergency: 911",
    )
    assert version.typed_note == ""


def test_only_what_is_under_way_is_shown(world, actor):
    plan = make_plan(world, actor)
    goal = plan.goals.get(patient_words="Walk to church by Easter")
    services.update_goal(actor, goal, {"lifecycle_status": "cancelled"}, goal.version)
    row = plan.interventions.get(discipline="HHA")
    services.update_intervention(actor, row, {"status": "completed"}, row.version)
    frequency = plan.frequencies.get(discipline="HHA")
    services.update_frequency(actor, frequency, {"status": "stopped"}, frequency.version)
    plan.refresh_from_db()
    version = build_version(plan, "en")
    assert "Walk to church by Easter" not in version.goals
    assert [g.title for g in version.groups] == ["You", "Your nurse", "June Hale, who helps you"]
    assert len(version.visits) == 1 and version.visits[0].startswith("Your nurse")


def test_a_frequency_the_parser_cannot_read_is_shown_as_typed(world, actor):
    plan = make_plan(world, actor)
    # As an imported plan can hold it (the services refuse it).
    DisciplineFrequency.objects.filter(plan=plan, discipline="HHA").update(frequency="2x/wk")
    Intervention.objects.filter(plan=plan, discipline="HHA").update(frequency="twice weekly")
    version = build_version(plan, "es")
    assert version.visits[1].startswith(
        "Su asistente de salud en casa vendrá como lo escribió el equipo: 2x/wk. Esto empieza el "
    )
    aide = version.groups[2]
    assert aide.tasks[0].how_often == "Cada cuánto: twice weekly."


def test_one_phone_is_said_as_day_or_night_and_none_says_to_ask(world, actor):
    plan = make_plan(world, actor)
    assert tuple(map(str, build_version(plan, "en").phones)) == (
        "Ask your nurse for our phone number.",
        "Emergency: 911",
    )
    Organization.objects.filter(pk=world.org.pk).update(phone=DAY_PHONE)
    plan = CarePlan.objects.select_related("patient__organization").get(pk=plan.pk)
    assert tuple(map(str, build_version(plan, "es").phones)) == (
        f"Llame al {DAY_PHONE} de día o de noche.",
        "Emergencia: 911",
    )


def test_the_version_in_spanish_keeps_what_the_team_typed_and_says_so(world, actor, agency_phones):
    plan = make_plan(world, actor)
    version = build_version(plan, "es-MX")
    assert version.lang == "es"
    assert version.title == "Mi plan de cuidado en casa"
    assert version.goals[0] == "Stay out of the hospital"
    assert [g.title for g in version.groups] == [
        "Usted",
        "Su enfermera",
        "Su asistente de salud en casa",
        "June Hale, que le ayuda",
    ]
    assert version.visits[0].startswith(
        "Su enfermera vendrá 3 veces por semana durante 1 semana, luego 2 veces por semana "
        "durante 4 semanas. Esto empieza el "
    )
    assert (
        version.typed_note == "Su equipo de cuidado escribió algunas partes de este plan en inglés."
    )
    assert version.red_flags[1].title == "Insuficiencia cardiaca"


def test_the_version_reads_in_a_fixed_number_of_queries(world, actor):
    plan = make_plan(world, actor)
    with CaptureQueriesContext(connection) as small:
        build_version(CarePlan.objects.get(pk=plan.pk), "en")
    for i in range(5):
        services.add_goal(actor, plan, {"patient_words": f"More {i}", "description": f"More {i}"})
        services.add_intervention(
            actor, plan, {"kind": "teach", "text": f"More {i}", "discipline": "PT"}
        )
    with CaptureQueriesContext(connection) as large:
        build_version(CarePlan.objects.get(pk=plan.pk), "en")
    assert len(large) == len(small)


# --- the page ------------------------------------------------------------------------------------


def test_the_page_shows_goals_first_in_large_print_and_is_audited(
    login, world, actor, agency_phones
):
    plan = make_plan(world, actor)
    response = login(world.cm).get(page(world.patient))
    assert response.status_code == 200
    text = response.content.decode()
    order = ["My goals", "Who will do what", "When we come", "When to call"]
    positions = [text.index(f">{heading}</h2>") for heading in order]
    assert positions == sorted(positions)
    # The patient's own part is the first group, right under "Who will do what".
    you, nurse = text.index(">You</h3>"), text.index(">Your nurse</h3>")
    assert positions[1] < you < nurse < positions[2]
    assert REALISTIC["patient"] in text[you:nurse]
    assert 'class="patient-version" lang="en"' in text
    assert f'Our phone: <span class="pv-number">{DAY_PHONE}</span>' in text
    assert f'<span class="pv-number">{NIGHT_PHONE}</span>' in text
    assert 'Emergency: <span class="pv-number">911</span>' in text
    assert "Call 911 right away if:" in text
    assert f'href="{pdf(world.patient, "en")}"' in text
    assert 'lang="es" hreflang="es"' in text and ">Español</a>" in text
    event = AuditEvent.objects.filter(actor_id=world.cm.pk).latest("seq")
    assert (event.action, event.patient_id, event.object_id) == (
        "patient.view",
        world.patient.pk,
        str(plan.pk),
    )
    assert event.detail == {"section": "care-plan", "page": "for-patient", "lang": "en"}


def test_the_care_plan_section_links_to_the_version(login, world, actor):
    make_plan(world, actor)
    text = login(world.cm).get(reverse("chart_section", args=[world.patient.pk, "care-plan"]))
    assert page(world.patient) in text.content.decode()


def test_spanish_is_chosen_from_the_preferred_language(login, world, actor, agency_phones):
    set_language(world.patient, "es-MX")
    make_plan(world, actor)
    text = login(world.cm).get(page(world.patient)).content.decode()
    assert 'class="patient-version" lang="es"' in text
    assert ">Mis metas</h2>" in text and ">Cuándo llamar</h2>" in text
    assert "Llame al 911 de inmediato si:" in text
    assert "escribió algunas partes de este plan en inglés" in text
    # The team's words are marked as English for screen readers.
    assert '<li lang="en">Stay out of the hospital</li>' in text
    # The nurse switches to English with the language links.
    english = login(world.cm).get(page(world.patient, "en")).content.decode()
    assert ">My goals</h2>" in english and "en inglés" not in english


def test_a_language_careway_does_not_have_is_english_with_a_note(login, world, actor):
    make_plan(world, actor)
    text = login(world.cm).get(page(world.patient, "fr")).content.decode()
    assert ">My goals</h2>" in text
    assert 'no "fr" translation of this plan yet: it is shown in English' in text


def test_a_patient_without_a_plan_gets_a_message(login, world):
    response = login(world.cm).get(page(world.patient))
    assert response.status_code == 200
    assert "No care plan to print yet" in response.content.decode()
    # The PDF of no plan is the page that says so.
    assert login(world.cm).get(pdf(world.patient)).url == page(world.patient, "en")


def test_a_draft_plan_without_rows_says_what_comes(login, world, actor):
    services.start_plan(actor, world.patient)
    text = login(world.cm).get(page(world.patient)).content.decode()
    assert "We will set your goals with you soon." in text
    assert "We will call you to set up your visits." in text
    assert "Ask your nurse for our phone number." in text


# --- the PDF -------------------------------------------------------------------------------------


def test_the_pdf_in_spanish_reads_back_and_is_audited_as_an_export(
    login, world, actor, agency_phones
):
    plan = make_plan(world, actor)
    response = login(world.cm).get(pdf(world.patient, "es"))
    if response.status_code == 503:
        pytest.skip("WeasyPrint's system libraries are not installed here")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    disposition = response["Content-Disposition"]
    assert (
        disposition.startswith('attachment; filename="care-plan-MH-') and "-es.pdf" in disposition
    )
    assert "Margaret" not in disposition and "Hale" not in disposition
    text = " ".join(pdf_text(response.content).split())
    for expected in (
        "Mi plan de cuidado en casa",
        "Para Margaret Hale",
        "Mis metas",
        "Quién hará qué",
        "Cuándo vamos",
        "Cuándo llamar",
        "Llame al 911 de inmediato si:",
        "Insuficiencia cardiaca",
        "Tiene dolor o presión en el pecho.",
        DAY_PHONE,
        NIGHT_PHONE,
        "Emergencia: 911",
        "Stay out of the hospital",
    ):
        assert expected in text, expected
    event = AuditEvent.objects.filter(actor_id=world.cm.pk).latest("seq")
    assert (event.action, event.patient_id, event.object_id) == (
        "patient.export",
        world.patient.pk,
        str(plan.pk),
    )
    assert event.detail["format"] == "pdf" and event.detail["lang"] == "es"


def test_without_pdf_support_the_page_says_to_print_from_the_browser(
    login, world, actor, monkeypatch
):
    make_plan(world, actor)

    def unavailable(*args, **kwargs):
        raise PdfUnavailable("PDF needs WeasyPrint's system libraries")

    monkeypatch.setattr("careway.careplans.version_views.render_pdf", unavailable)
    response = login(world.cm).get(pdf(world.patient))
    assert response.status_code == 503
    text = response.content.decode()
    assert "Print the patient's version from the browser instead" in text
    assert page(world.patient, "en") in text
    assert not AuditEvent.objects.filter(action="patient.export").exists()


# --- who may read it -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["cm", "rn", "supervisor", "scheduler"])
def test_the_care_team_and_supervisor_read_it(login, world, actor, who):
    make_plan(world, actor)
    client = login(getattr(world, who))
    assert client.get(page(world.patient)).status_code == 200


def test_a_read_only_member_cannot_post(login, world, actor):
    make_plan(world, actor)
    client = login(world.scheduler)
    for address in (page(world.patient), pdf(world.patient)):
        assert client.post(address).status_code == 403
    assert AuditEvent.objects.filter(actor_id=world.scheduler.pk, outcome="denied").exists()


@pytest.mark.parametrize("who", ["cm_other", "outsider", "auditor", "admin"])
def test_everyone_else_gets_404_and_nothing_is_exported(login, world, actor, who):
    make_plan(world, actor)
    client = login(getattr(world, who))
    for address in (page(world.patient), pdf(world.patient), pdf(world.patient, "es")):
        assert client.get(address).status_code == 404, address
        assert client.post(address).status_code == 404, address
    assert not AuditEvent.objects.filter(action="patient.export").exists()
    denied = AuditEvent.objects.filter(actor_id=getattr(world, who).pk, outcome="denied")
    assert denied.exists()


# --- reading level -------------------------------------------------------------------------------

# Only the texts Careway writes are measured: the team's typed text (goals, interventions, names)
# is replaced by short neutral words in the language of the version, so the score is the score
# of the sentence templates, the red flags and the phone lines as the patient reads them.
NEUTRAL = {
    "en": {
        "goals": [("Walk each day", "Walk each day"), ("Eat well", "Eat well"),
                  ("", "Sleep well"), ("Feel good", "Feel good")],
        "nurse": ["Check your legs", "Look at your log"],
        "aide": "Help you wash",
        "caregiver_name": "Ann",
        "caregiver": "Check your weight",
        "patient": "Weigh yourself each day",
        "patient_name": "Ann Lee",
        "agency": "Home Care",
    },
    "es": {
        "goals": [("Caminar cada día", "Caminar cada día"), ("Comer bien", "Comer bien"),
                  ("", "Dormir bien"), ("Estar bien", "Estar bien")],
        "nurse": ["Ver sus piernas", "Ver su peso"],
        "aide": "Ayudar a bañarse",
        "caregiver_name": "Ana",
        "caregiver": "Ver su peso",
        "patient": "Pésese cada día",
        "patient_name": "Ana Ruiz",
        "agency": "Cuidado en Casa",
    },
}  # fmt: skip


class _BodyText(HTMLParser):
    """The text of the version without its headings: each paragraph, list item and line its own
    sentence (a list item without a full stop is read as one, as a reader reads it)."""

    BLOCKS = {"p", "li"}
    SKIPPED = {"h1", "h2", "h3", "h4"}

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self._current: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIPPED:
            self._skipping += 1
        elif tag in self.BLOCKS or ("class", "pv-often") in attrs:  # shown on a line of its own
            self._flush()

    def handle_endtag(self, tag):
        if tag in self.SKIPPED:
            self._skipping -= 1
        elif tag in self.BLOCKS:
            self._flush()

    def handle_data(self, data):
        if not self._skipping:
            self._current.append(data)

    def _flush(self):
        said = " ".join(" ".join(self._current).split())
        self._current = []
        if said:
            self.blocks.append(said if said[-1] in ".:!?" else f"{said}.")


def body_text(html: str) -> str:
    start = html.index(">", html.index('class="patient-version"')) + 1
    parser = _BodyText()
    parser.feed(html[start : html.index("</article>", start)])
    parser.close()
    return "\n".join(parser.blocks)


def _neutral_body(login, world, actor, lang):
    neutral = NEUTRAL[lang]
    set_language(world.patient, lang)
    Organization.objects.filter(pk=world.org.pk).update(
        name=neutral["agency"], phone=DAY_PHONE, after_hours_phone=NIGHT_PHONE
    )
    make_plan(world, actor, typed=neutral)
    html = login(world.cm).get(page(world.patient)).content.decode()
    return body_text(html).replace(world.patient.full_name, neutral["patient_name"])


# Measured twice: the whole body, and the version's own sentences without the red flags (written
# and measured in careway/careplans/content/red_flags.json), so that neither passes on the other.
@pytest.mark.parametrize("red_flags", [True, False], ids=["whole-body", "version-texts-only"])
def test_the_english_version_reads_at_grade_6_or_below(login, world, actor, monkeypatch, red_flags):
    if not red_flags:
        monkeypatch.setattr(patient_version, "red_flags_for", lambda patient, lang: [])
    text = _neutral_body(login, world, actor, "en")
    assert readability.scored(text) and "Call us any time you are worried." in text
    grade = readability.english_grade(text)
    assert grade <= readability.ENGLISH_MAX_GRADE, f"grade {grade}:\n{text}"


@pytest.mark.parametrize("red_flags", [True, False], ids=["whole-body", "version-texts-only"])
def test_the_spanish_version_is_easy_to_read(login, world, actor, monkeypatch, red_flags):
    if not red_flags:
        monkeypatch.setattr(patient_version, "red_flags_for", lambda patient, lang: [])
    text = _neutral_body(login, world, actor, "es")
    assert readability.scored(text)
    ease = readability.spanish_ease(text)
    assert ease >= readability.SPANISH_MIN_EASE, f"Fernández-Huerta {ease}:\n{text}"
