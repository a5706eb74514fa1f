"""cnnlab.course.prose: sentences with measured numbers, for the book and JupyterLab alike."""

import pytest

from cnnlab.course.prose import fill, say


def test_fills_named_placeholders_with_format_specs():
    assert fill("{n:,d} images, {acc:.1%} right", n=60000, acc=0.9132) == "60,000 images, 91.3% right"


def test_latex_braces_are_left_alone():
    text = r"$\frac{n - f}{s} + 1$ and $x_{i}^{2}$: {k} cases"
    assert fill(text, k=3) == r"$\frac{n - f}{s} + 1$ and $x_{i}^{2}$: 3 cases"


def test_dedents_and_strips_triple_quoted_text():
    assert fill("""
        first {a}
        second
    """, a=1) == "first 1\nsecond"


def test_unused_value_is_an_error():
    with pytest.raises(ValueError, match="unused|no placeholder"):
        fill("nothing here", a=1)


def test_placeholder_without_value_is_an_error():
    with pytest.raises(ValueError, match="peak"):
        fill("the peak is {peak:.0%}")


def test_say_returns_markdown_that_displays_the_filled_text():
    md = say("**{x}** left", x=2)
    assert type(md).__name__ == "Markdown"
    from IPython.core.formatters import MarkdownFormatter  # Jupyter's text/markdown formatter, without a shell

    assert MarkdownFormatter()(md) == "**2** left"
