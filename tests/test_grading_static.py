"""Shortcuts score zero, decided from the submitted source (cnnlab.grading.static), and the case
generators that both sides of the sandbox share (cnnlab.grading.cases)."""

import numpy as np

from cnnlab import reference as ref
from cnnlab.grading import cases
from cnnlab.grading.static import (NUMPY_FORBIDDEN, TORCH_FORBIDDEN, forbidden_functions, forbidden_imports,
                                   handed_names)


def test_honest_numpy_code_is_not_flagged():
    source = "import numpy as np\nfrom cnnlab import grading\n\ndef corr2d(x, k):\n    return np.zeros(1)\n"
    assert forbidden_functions([source], NUMPY_FORBIDDEN) == {}


def test_imports_aliases_strings_chains_and_helpers_are_flagged():
    cells = [
        "import scipy.signal as ss\nimport cnnlab\nimport importlib\n",
        "def a(x):\n    import torch\n    return x\n",
        "def b(x):\n    return ss.correlate2d(x, x)\n",
        "def c(x):\n    return importlib.import_module('torch').relu(x)\n",
        "def d(x):\n    return cnnlab.reference.conv2d(x)\n",
        "def helper(x):\n    return b(x)\n\ndef e(x):\n    return helper(x) + 1\n",
        "def honest(x):\n    return x * 2\n",
    ]
    found = forbidden_functions(cells, NUMPY_FORBIDDEN)
    assert set(found) == {"a", "b", "c", "d", "helper", "e"}
    assert "imports torch" in found["a"][0] and "'torch'" in found["c"][0]
    assert "cnnlab" in found["d"][0]


def test_torch_exercises_allow_torch_but_not_the_course_models():
    cells = ["import torch\nfrom torch import nn\nfrom cnnlab.models import VGG as V\n",
             "def build():\n    return nn.Conv2d(1, 2, 3)\n", "def vgg(cfg):\n    return V(cfg)\n",
             "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.m = V([8])\n"]
    assert set(forbidden_functions(cells, TORCH_FORBIDDEN)) == {"vgg", "Net"}


def test_a_cell_with_magics_is_still_checked():
    cells = ["%matplotlib inline\nimport torch\n\ndef f(x):\n    return torch.relu(x)\n"]
    assert set(forbidden_functions(cells, NUMPY_FORBIDDEN)) == {"f"}


def test_backward_cases_have_the_shapes_of_the_answer_key():
    """The sandbox draws dout without the answer key: its shape formula must agree with it."""
    for case in cases.conv_cases(seed=5, n=12, stride=(1, 2, (2, 1)), padding=(0, 1, "same", (1, 2), "valid"),
                                 square=False, backward=True):
        out = ref.conv2d(case["x"], case["w"], None, stride=case["stride"], padding=case["padding"])
        assert case["dout"].shape == out.shape
    for case in cases.pool_cases(seed=6, n=12, kernel_size=(2, 3, (2, 3)), stride=(None, 1, (1, 2)),
                                 padding=(0, 1, 1), square=False, backward=True):
        out = ref.max_pool2d(case["x"], case["kernel_size"], case["stride"], case["padding"])
        assert case["dout"].shape == out.shape
    assert np.array_equal(cases.conv_cases(seed=1)[0]["x"], cases.conv_cases(seed=1)[0]["x"])  # seeded


def test_the_answer_key_imported_under_the_exercise_name_is_flagged():
    cells = ["from cnnlab.models import VGG\nfrom torch import nn\n", "from cnnlab import grading\n"]
    found = forbidden_imports(cells, TORCH_FORBIDDEN)
    assert set(found) == {"VGG", "grading"} and found["VGG"] == ["VGG is cnnlab.models.VGG"]
    assert forbidden_imports(cells + ["class VGG(nn.Module):\n    pass\n"], TORCH_FORBIDDEN).keys() == {"grading"}


def test_what_the_set_up_cell_hands_the_student_is_not_a_shortcut():
    """07's set-up cell imports FASHION_MNIST_CLASSES and load_fashion_mnist for the student: using them is
    part of the exercise. A module it binds (grading) and what it does not import stay forbidden."""
    setup = "import torch\nfrom torch import nn\nfrom cnnlab import grading\nfrom cnnlab.data import FASHION_MNIST_CLASSES, load_fashion_mnist\n"
    handed = handed_names([setup])
    assert handed == {"cnnlab.data.FASHION_MNIST_CLASSES", "cnnlab.data.load_fashion_mnist"}
    cells = [setup,
             "def build_model():\n    return nn.Linear(64, len(FASHION_MNIST_CLASSES))\n",
             "def names():\n    return [c.upper() for c in FASHION_MNIST_CLASSES.copy()]\n",
             "def peek():\n    return load_fashion_mnist('test', limit=1)\n",
             "def cheat(m, x):\n    return grading.accuracy_of(m, x, x)\n",
             "def prepare(x):\n    from cnnlab.data import images_to_nchw_float\n    return images_to_nchw_float(x)\n"]
    assert set(forbidden_functions(cells, TORCH_FORBIDDEN, handed)) == {"cheat", "prepare"}
    assert set(forbidden_functions(cells, TORCH_FORBIDDEN)) == {"build_model", "names", "peek", "cheat", "prepare"}
    assert forbidden_imports(cells, TORCH_FORBIDDEN, handed).keys() == {"grading"}


def test_a_graded_function_cannot_launder_a_shortcut_through_another_graded_function():
    """A student who has read static.py: conv takes the shortcut (and loses its points), conv_backward and
    pool call conv or a helper. Both are tainted: the shortcut does their work too."""
    cells = ["import scipy.signal as ss\n",
             "def conv(x):\n    return ss.correlate2d(x, x)\n",
             "def helper(x):\n    return ss.convolve2d(x, x)\n",
             "def conv_backward(x):\n    return conv(x) * 2\n",
             "def pool(x):\n    return helper(x)\n",
             "def honest(x):\n    return x * 2\n"]
    assert set(forbidden_functions(cells, NUMPY_FORBIDDEN)) == {"conv", "helper", "pool", "conv_backward"}
