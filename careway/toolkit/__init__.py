"""What every page and API endpoint of Careway is built from, whichever domain serves it.

- `pages`: the agency page decorator (signed in, the agency's time zone), query strings, sortable
  column headers, pagination; the templates `toolkit/_field.html`, `_form_errors.html` and
  `_pagination.html`.
- `forms`: `CarewayForm` (fieldsets, the error summary, a service's errors on their fields) and
  `VersionedForm` (an edit that knows the version it started from).
- `api`: django-ninja operations with their scope and documented problems, paging, versions
  from If-Match, and every error as an RFC 9457 problem body.
- `tokens`: the one bearer-token authentication of /api/v1 and /fhir/R4.

It knows no domain: it imports careway.core only.
"""
