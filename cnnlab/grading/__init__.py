"""What the autograder's test cells call: ``from cnnlab import grading``.

Every test cell of an assignment is one or two lines such as::

    grading.check(conv2d, "cnnlab.reference.conv2d", grading.conv_cases(seed=1))

The same line means three things, depending on where it runs:

- in a learner's kernel (JupyterLab): this package, :mod:`cnnlab.grading.learner`, compares with
  the answer key at once and explains a mismatch (case, shape, first wrong index, largest error);
  calling the answer key or a forbidden library gives ``CheatingError`` there and then;
- in the grading sandbox: a generated package holding :mod:`cnnlab.grading.record` only, which
  calls the student's function on the same seeded inputs and records the outputs as plain data;
- on the trusted side: :mod:`cnnlab.grading.trusted` compares those records with the answer key.
  Only this verdict is recorded in the gradebook.

Modules, one job each:

==================  =====================================================================
``compare``         errors, descriptions, ``assert_matches`` (strict: exactly ``np.ndarray``) and
                    the property checks (dropout, augmentation, losses, models) learner and trusted share
``cases``           seeded case generators (NumPy only, copied into the sandbox); ``hidden_seed(k)``
``hidden``          the hidden tests' seeds, drawn while grading from a secret the sandbox never sees
``keys``            answer keys without a package counterpart, reference models, the grader's data
``static``          shortcuts score zero: AST check of the submitted source
``learner``         the in-kernel checks and warnings for learners
``record``          the sandbox side: call, record, judge nothing
``boundary``        plain data across the boundary: ``.npy`` without pickle, JSON
``model_spec``      07's network as data: standard ``torch.nn`` layers and weights, rebuilt on the trusted side
``trusted``         the trusted checker
``sandbox``         the bubblewrap jail of the kernel and its limits
``nbgrader_glue``   ``SandboxedExecute`` for ``nbgrader autograde``; ``grade_notebook``
``batch``           a whole class at once: local jobs or a Dask cluster; one writer of the gradebook
``similarity``      copy detection for ``grade.py similarity`` (copydetect fingerprints, an HTML report)
==================  =====================================================================
"""

from .cases import (batch_norm_cases, conv_cases, corr2d_cases, gradient_cases, hidden_rng, hidden_seed,  # noqa: F401
                    image_cases, output_size_cases, pad_cases, pool_cases, random_array, shift_cases, TINY, VGG11,
                    VGG16)
from .compare import (CheatingError, MismatchError, TimeLimitError, assert_matches, check_losses,  # noqa: F401
                      describe, time_limit)
from .keys import accuracy_of, answers, count_params, reference_vgg_features  # noqa: F401
from .learner import (call_student, check, check_accuracy, check_cnn, check_cpu_budget, check_dropout,  # noqa: F401
                      check_model, check_random_augmentation, expect_error, fashion_mnist_tensors, find_forbidden,
                      observe, tripwires)
from .static import NUMPY_FORBIDDEN, TORCH_FORBIDDEN  # noqa: F401

__all__ = [
    "CheatingError", "MismatchError", "TimeLimitError", "assert_matches", "describe",
    "check", "expect_error", "call_student", "observe", "check_dropout", "check_random_augmentation",
    "check_cnn", "check_model", "check_losses", "check_accuracy", "check_cpu_budget", "fashion_mnist_tensors",
    "accuracy_of", "count_params", "find_forbidden", "tripwires", "time_limit", "NUMPY_FORBIDDEN", "TORCH_FORBIDDEN",
    "random_array", "corr2d_cases", "conv_cases", "pool_cases", "pad_cases", "batch_norm_cases", "image_cases",
    "gradient_cases", "shift_cases", "output_size_cases", "hidden_seed", "hidden_rng", "answers",
    "reference_vgg_features",
]
