import pytest
from django.template import Context, Template, TemplateSyntaxError


def test_a_captured_block_renders_once_and_prints_where_asked():
    calls = []

    def counted():
        calls.append(1)
        return "<b>x</b>"

    template = Template(
        "{% load capture %}{% capture as cell %}{{ value }}{% endcapture %}[{{ cell }}|{{ cell }}]"
    )
    assert (
        template.render(Context({"value": counted}))
        == "[&lt;b&gt;x&lt;/b&gt;|&lt;b&gt;x&lt;/b&gt;]"
    )
    assert len(calls) == 1


def test_a_capture_without_a_name_says_how_to_write_it():
    with pytest.raises(TemplateSyntaxError, match="capture as name"):
        Template("{% load capture %}{% capture %}x{% endcapture %}")
