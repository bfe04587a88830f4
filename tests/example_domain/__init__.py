"""A tiny domain that exists only in the tests: a note on a patient, as a new part of Careway
would add it. It touches nothing outside its folder but INSTALLED_APPS and one URL include
(tests/settings.py, tests/urls.py), and tests/test_domain_shape.py checks it the way it checks
every real domain: DEVELOPERS.md ("Adding a domain") walks through it."""
