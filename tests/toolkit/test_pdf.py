"""The PDF maker fetches only Careway's own static files: never the network, never another file
of the server (a document is made offline, and a link in one must not read /etc/passwd)."""

import pytest

from careway.toolkit.pdf import _offline_fetcher_class


@pytest.fixture
def fetcher(pdf_ready):
    return _offline_fetcher_class()()


def test_a_static_file_is_served_from_the_finders(fetcher):
    response = fetcher.fetch("static:careway/careway.css")
    assert response.content_type == "text/css"
    assert b"font-family" in response.read()


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "https://example.org/style.css",
        "http://127.0.0.1:8000/x",
        "/etc/hosts",
    ],
)
def test_anything_else_is_refused(fetcher, url):
    with pytest.raises(ValueError, match="nothing but Careway's static files"):
        fetcher.fetch(url)


def test_making_a_pdf_writes_nothing_to_the_console(pdf_ready, caplog):
    """WeasyPrint logs each step of each PDF at INFO; Careway's console (LOG_LEVEL INFO by
    default, `make run`, `careway demo`) shows its warnings only."""
    import logging

    from careway.toolkit.pdf import _weasyprint

    with caplog.at_level(logging.INFO):
        _weasyprint().HTML(string="<p>Plan of care</p>").write_pdf()
    assert [r for r in caplog.records if r.name.startswith(("weasyprint", "fontTools"))] == []
