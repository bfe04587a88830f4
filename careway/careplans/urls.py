"""The care plan's pages. The chart's Care plan section itself (/patients/<id>/care-plan/) is the
patients' chart view showing the section registered in apps.py; these are the pages under it."""

from django.urls import path

from . import (
    goal_urls,
    handout_views,
    plan_of_care_views,
    suggestion_views,
    teaching_views,
    template_views,
    version_views,
    views,
)

app_name = "careplans"

PLAN = "patients/<uuid:patient_id>/care-plan"

urlpatterns = [
    path(f"{PLAN}/start/", views.plan_start, name="start"),
    path(f"{PLAN}/edit/", views.plan_edit, name="plan_edit"),
    path(f"{PLAN}/status/", views.plan_status, name="plan_status"),
    path(f"{PLAN}/problems/new/", views.problem_add, name="problem_add"),
    path(f"{PLAN}/problems/<uuid:problem_id>/edit/", views.problem_edit, name="problem_edit"),
    path(f"{PLAN}/goals/new/", views.goal_add, name="goal_add"),
    # The goal's own page (progress, trend) is careplans:goal, .../goals/<goal_id>/.
    path(f"{PLAN}/goals/<uuid:goal_id>/edit/", views.goal_edit, name="goal_edit"),
    path(f"{PLAN}/interventions/new/", views.intervention_add, name="intervention_add"),
    path(
        f"{PLAN}/interventions/<uuid:intervention_id>/edit/",
        views.intervention_edit,
        name="intervention_edit",
    ),
    path(
        f"{PLAN}/interventions/<uuid:intervention_id>/task/",
        views.intervention_task,
        name="intervention_task",
    ),
    path(f"{PLAN}/frequencies/new/", views.frequency_add, name="frequency_add"),
    path(
        f"{PLAN}/frequencies/<uuid:frequency_id>/edit/",
        views.frequency_edit,
        name="frequency_edit",
    ),
    path(f"{PLAN}/review/", suggestion_views.plan_review, name="review"),
    path(f"{PLAN}/suggestions/", suggestion_views.suggestion_list, name="suggestions"),
    path(
        f"{PLAN}/suggestions/<uuid:suggestion_id>/accept/",
        suggestion_views.suggestion_accept,
        name="suggestion_accept",
    ),
    path(
        f"{PLAN}/suggestions/<uuid:suggestion_id>/reject/",
        suggestion_views.suggestion_reject,
        name="suggestion_reject",
    ),
    path(f"{PLAN}/teaching/new/", teaching_views.teaching_add, name="teaching_add"),
    path(
        f"{PLAN}/teaching/<uuid:teaching_id>/entered-in-error/",
        teaching_views.teaching_error,
        name="teaching_error",
    ),
    path(f"{PLAN}/agreement/new/", teaching_views.agreement_add, name="agreement_add"),
    path(f"{PLAN}/revisions/", views.revision_list, name="revisions"),
    path(f"{PLAN}/revisions/compare/", views.revision_compare, name="compare"),
    # The patient's version (careway/careplans/version_views.py): large print, and as a PDF.
    path(f"{PLAN}/for-patient/", version_views.version_page, name="patient_version"),
    path(f"{PLAN}/for-patient.pdf", version_views.version_pdf, name="patient_version_pdf"),
    path("care-plans/frequency-in-words/", views.frequency_words, name="frequency_words"),
]

# The physician's plan of care and verbal orders (careway/careplans/plan_of_care_views.py).
POC = f"{PLAN}/plan-of-care"
urlpatterns += [
    path(f"{POC}/", plan_of_care_views.plan_of_care_list, name="plan_of_care_list"),
    path(f"{POC}/<uuid:poc_id>/", plan_of_care_views.plan_of_care_edit, name="plan_of_care_edit"),
    path(
        f"{POC}/<uuid:poc_id>/send/", plan_of_care_views.plan_of_care_send, name="plan_of_care_send"
    ),
    path(
        f"{POC}/<uuid:poc_id>/signed/",
        plan_of_care_views.plan_of_care_sign,
        name="plan_of_care_sign",
    ),
    path(f"{POC}/<uuid:poc_id>/pdf/", plan_of_care_views.plan_of_care_pdf, name="plan_of_care_pdf"),
    path(
        f"{PLAN}/verbal-orders/new/", plan_of_care_views.verbal_order_add, name="verbal_order_add"
    ),
    path(
        f"{PLAN}/verbal-orders/<uuid:order_id>/send/",
        plan_of_care_views.verbal_order_send,
        name="verbal_order_send",
    ),
    path(
        f"{PLAN}/verbal-orders/<uuid:order_id>/signed/",
        plan_of_care_views.verbal_order_sign,
        name="verbal_order_sign",
    ),
    path("orders/awaiting-signature/", plan_of_care_views.orders_awaiting, name="orders_awaiting"),
]

# A goal's own page (progress, trend, override): careway/careplans/goal_urls.py.
urlpatterns += goal_urls.urlpatterns

# The agency's care plan templates (careway/careplans/template_views.py): not about one patient.
TEMPLATES = "agency/care-plan-templates"
urlpatterns += [
    path(f"{TEMPLATES}/", template_views.template_list, name="template_list"),
    # "new" is never a template's key (agency_content.RESERVED_KEYS).
    path(f"{TEMPLATES}/new/", template_views.template_new, name="template_new"),
    path(f"{TEMPLATES}/<slug:key>/", template_views.template_detail, name="template_detail"),
    path(f"{TEMPLATES}/<slug:key>/copy/", template_views.template_copy, name="template_copy"),
    path(f"{TEMPLATES}/<slug:key>/edit/", template_views.template_edit, name="template_edit"),
    path(f"{TEMPLATES}/<slug:key>/retire/", template_views.template_retire, name="template_retire"),
    path(
        f"{TEMPLATES}/<slug:key>/restore/", template_views.template_restore, name="template_restore"
    ),
]

# The agency's teaching handouts (careway/careplans/handout_views.py): not about one patient.
HANDOUTS = "agency/handouts"
urlpatterns += [
    path(f"{HANDOUTS}/", handout_views.handout_list, name="handout_list"),
    # "new" is never a handout's key (agency_content.RESERVED_KEYS).
    path(f"{HANDOUTS}/new/", handout_views.handout_new, name="handout_new"),
    path(f"{HANDOUTS}/<slug:key>/", handout_views.handout_detail, name="handout_detail"),
    path(f"{HANDOUTS}/<slug:key>/copy/", handout_views.handout_copy, name="handout_copy"),
    path(f"{HANDOUTS}/<slug:key>/edit/", handout_views.handout_edit, name="handout_edit"),
    path(f"{HANDOUTS}/<slug:key>/retire/", handout_views.handout_retire, name="handout_retire"),
    path(f"{HANDOUTS}/<slug:key>/restore/", handout_views.handout_restore, name="handout_restore"),
]
