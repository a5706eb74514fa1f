"""Sentences whose numbers come from the code that just ran.

A chapter states a measured number by printing the sentence that contains it from a code cell:

    say("The formula matches PyTorch in all {cases} cases: {mismatches} mismatches.",
        cases=cases, mismatches=mismatches)

The cell is tagged ``remove-input`` (the rendered book shows only the sentence) and its source is
collapsed in JupyterLab (``metadata.jupyter.source_hidden``), so a learner running the notebook
reads the same sentence with the same numbers that the book shows. Unlike myst-nb's ``glue`` roles,
nothing stays raw markup in JupyterLab: the output is plain Markdown (with ``$math$``).
"""

from __future__ import annotations

import re
import textwrap

__all__ = ["say", "fill", "probability"]

# {name} or {name:format_spec}; only names passed as keywords are replaced, so LaTeX braces such
# as $\frac{n}{s}$ are left alone.
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)(?::([^{}]*))?\}")
# What is still a placeholder after filling: a {word} that does not follow a LaTeX command,
# a sub- or superscript or another group (\frac{a}{b}, x_{i}, x^{2}).
_LEFT_OVER = re.compile(r"(?<![\\\w_^}])\{([A-Za-z_]\w*)(?::[^{}]*)?\}")


def fill(template: str, **values) -> str:
    """Return ``template`` with each ``{name}`` / ``{name:spec}`` replaced by ``format(values[name], spec)``.

    Args:
        template: Markdown text. Braces that do not name a keyword (LaTeX groups) are kept.
        **values: the numbers (or strings) the text states.

    Raises:
        ValueError: a keyword that the text never uses, or a placeholder with no value
            (both are typos that would otherwise put a wrong or raw number in front of a reader).

    Example:
        >>> print(fill("kept {share:.0%} of the peak in $x_{n}$", share=0.764))
        kept 76% of the peak in $x_{n}$
    """
    used = set()

    def replace(match: re.Match) -> str:
        name, spec = match.group(1), match.group(2) or ""
        if name not in values:
            return match.group(0)
        used.add(name)
        return format(values[name], spec)

    text = _PLACEHOLDER.sub(replace, textwrap.dedent(template).strip())
    unused = sorted(set(values) - used)
    if unused:
        raise ValueError(f"say(): values {unused} are passed but the text has no placeholder for them")
    missing = sorted({m.group(1) for m in _LEFT_OVER.finditer(text)})
    if missing:
        raise ValueError(f"say(): placeholders {missing} have no value (pass them as keywords)")
    return text


def say(template: str, **values):
    """Display ``fill(template, **values)`` as Markdown: in the book and in JupyterLab alike.

    Returns an ``IPython.display.Markdown`` object; as a cell's last expression it renders as prose.
    """
    from IPython.display import Markdown

    return Markdown(fill(template, **values))


def probability(p, digits=3):
    """A probability with no more digits than it has: ``"0.874"``, or ``"> 0.999"`` near 1 and ``"< 0.001"`` near 0.

    A float32 softmax that rounds to 1.0 is not certainty; "1.0000" would claim four digits that are not there.

    Example:
        >>> probability(0.87412), probability(0.99996), probability(2e-6)
        ('0.874', '> 0.999', '< 0.001')
    """
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p}")
    step = 10.0 ** -digits
    if p > 1 - step:
        return f"> {1 - step:.{digits}f}"
    if p < step:
        return f"< {step:.{digits}f}"
    return f"{p:.{digits}f}"
