"""The comparative claims a chapter asserts, checked where they are made and recorded for the robustness run.

A trained network depends on the machine: its CPU, its BLAS kernels, its thread count and its GPU
train a different network, just as another seed does. So a chapter may assert a stochastic claim
("helps", "hurts", "faster", "survives") only if it holds on every machine, and the way to know
is to rebuild the chapter as other machines would: under other ``CNNLAB_SEED_OFFSET`` values and
thread counts. ``scripts/check_claims.py`` does that and prints one row per claim.

- ``claim(name, holds, measured)``: ``assert holds`` with a readable message; with ``CNNLAB_CLAIMS_LOG``
  set it also appends ``{"claim", "holds", "measured"}`` as one JSON line to that file, and with
  ``CNNLAB_CLAIMS_KEEP_GOING=1`` a failing claim is recorded instead of raised, so that one failure
  does not hide the claims after it.
- ``points(interval)``: a paired interval of accuracies as "+0.6 points (95% interval +0.1 to +1.0)".

A claim that the data do not support on every machine is not asserted: the chapter states what was
measured, with the word ``cnnlab.course.evidence.verdict`` reads off the interval.
"""

from __future__ import annotations

import json
import os

__all__ = ["claim", "points", "ClaimFailed"]


class ClaimFailed(AssertionError):
    """A claim the text makes did not hold in this run."""


def claim(name, holds, measured=""):
    """Assert that the claim ``name`` holds; record it when ``CNNLAB_CLAIMS_LOG`` names a file.

    Args:
        name: the claim in words, as the text states it ("dropout lowers the test loss").
        holds: whether the measurement supports it (anything ``bool`` accepts, such as a NumPy bool).
        measured: what was measured, in a few words ("-0.36 (-0.45 to -0.27)"), for the message and the log.

    Returns:
        ``bool(holds)``.

    Raises:
        ClaimFailed: the claim does not hold (unless ``CNNLAB_CLAIMS_KEEP_GOING=1``).

    Example:
        >>> claim("two is more than one", 2 > 1, "2 vs 1")
        True
        >>> claim("one is more than two", 1 > 2, "1 vs 2")
        Traceback (most recent call last):
        ...
        cnnlab.course.claims.ClaimFailed: claim 'one is more than two' does not hold: 1 vs 2
    """
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    holds = bool(holds)
    log = os.environ.get("CNNLAB_CLAIMS_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as file:
            file.write(json.dumps({"claim": name, "holds": holds, "measured": str(measured)}) + "\n")
    if not holds and os.environ.get("CNNLAB_CLAIMS_KEEP_GOING") != "1":
        raise ClaimFailed(f"claim {name!r} does not hold: {measured}")
    return holds


def points(interval, digits=1):
    """A paired interval of fractions as percentage points: "+0.6 points (95% interval +0.1 to +1.0)".

    Args:
        interval: a dict with ``"mean"``, ``"low"`` and ``"high"`` (``cnnlab.course.experiments.paired_interval``).
        digits: decimals to print; one is what a few seeds can support.

    Example:
        >>> points({"mean": 0.0056, "low": 0.0014, "high": 0.0097})
        '+0.6 points (95% interval +0.1 to +1.0)'
    """
    mean, low, high = (100 * float(interval[key]) for key in ("mean", "low", "high"))
    return f"{mean:+.{digits}f} points (95% interval {low:+.{digits}f} to {high:+.{digits}f})"
