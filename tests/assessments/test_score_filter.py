import pytest
from django.template import Context, Template


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (14.5, "14.5"),
        (6.0, "6"),
        (1 / 3, "0.33"),
        (0, "0"),
        (-2.25, "-2.25"),
        (None, ""),
        ("x", "x"),
    ],
)
def test_a_score_reads_as_it_was_given(value, shown):
    text = Template("{% load scores %}{{ v|score }}").render(Context({"v": value}))
    assert text == shown
