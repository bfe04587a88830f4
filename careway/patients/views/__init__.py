"""The patient pages, one module per feature: the caseload (caseload), the chart and its sections
(chart), the forms that change a chart (edit) and emergency access (emergency).

Views stay thin: they ask `careway.patients.access` for the patient (404 when not visible, 403
when read-only), read through `queries`, write through `services`, and audit each read in the
same transaction as the read. The access check runs before that transaction, so a denied attempt
stays recorded even though the request ends in an error.
"""
