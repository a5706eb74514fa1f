"""Bad input raises ValueError/TypeError naming the argument (and the shapes), never an IndexError."""

import numpy as np
import pytest

from cnnlab import reference as R
from cnnlab.checks import conv_geometry, output_size, pair, pool_geometry

x4 = np.zeros((2, 3, 8, 8))
w4 = np.zeros((4, 3, 3, 3))
pooled = np.zeros((2, 3, 4, 4))

CASES = [
    # conv2d
    (lambda: R.conv2d(np.zeros((3, 8, 8)), w4), ValueError, r"x must have 4 dimensions .*\(3, 8, 8\)"),
    (lambda: R.conv2d(x4, np.zeros((4, 3, 3))), ValueError, r"w must have 4 dimensions"),
    (lambda: R.conv2d(x4, np.zeros((4, 2, 3, 3))), ValueError, r"channel mismatch: x has C=3 .*\(2, 3, 8, 8\).* C=2"),
    (lambda: R.conv2d(x4, w4, np.zeros(5)), ValueError, r"b must have shape \(F,\) = \(4,\).*got shape \(5,\)"),
    (lambda: R.conv2d(x4, np.zeros((4, 3, 11, 3)), padding=1), ValueError, r"kernel .*\(11, 3\).*larger than the padded input \(10, 10\)"),
    (lambda: R.conv2d(x4, w4, stride=0), ValueError, r"stride must be at least 1"),
    (lambda: R.conv2d(x4, w4, stride=(1, -2)), ValueError, r"stride must be at least 1"),
    (lambda: R.conv2d(x4, w4, stride=1.5), TypeError, r"stride must be an int"),
    (lambda: R.conv2d(x4, w4, padding=-1), ValueError, r"padding must be non-negative"),
    (lambda: R.conv2d(x4, w4, padding="full"), ValueError, r"padding must be .*'full'"),
    (lambda: R.conv2d(x4, w4, stride=2, padding="same"), ValueError, r'padding="same" needs stride 1'),
    (lambda: R.conv2d(x4, w4, padding=(1, 2, 3)), ValueError, r"padding must be an int or a pair"),
    (lambda: R.conv2d(x4.astype(complex), w4), TypeError, r"x must hold real numbers.*complex"),
    (lambda: R.conv2d_naive(x4, np.zeros((4, 2, 3, 3))), ValueError, r"channel mismatch"),
    (lambda: R.conv2d_backward(np.zeros((2, 4, 5, 5)), x4, w4), ValueError, r"dout has shape \(2, 4, 5, 5\).*\(2, 4, 6, 6\)"),
    (lambda: R.corr2d(np.zeros((3, 3)), np.zeros((4, 2))), ValueError, r"kernel k of shape \(4, 2\) is larger than x of shape \(3, 3\)"),
    (lambda: R.corr2d(np.zeros((1, 3, 3)), np.zeros((2, 2))), ValueError, r"x must have 2 dimensions"),
    # pools
    (lambda: R.max_pool2d(np.zeros((3, 8, 8))), ValueError, r"x must have 4 dimensions"),
    (lambda: R.avg_pool2d(x4, 10), ValueError, r"kernel_size \(10, 10\) is larger than the padded input \(8, 8\)"),
    (lambda: R.min_pool2d(x4, 2, stride=0), ValueError, r"stride must be at least 1"),
    (lambda: R.max_pool2d(x4, 2, padding=-1), ValueError, r"padding must be non-negative"),
    (lambda: R.max_pool2d(x4, 2, padding=2), ValueError, r"padding \(2, 2\) must be at most half of kernel_size"),
    (lambda: R.max_pool2d(x4, 0), ValueError, r"kernel_size must be at least 1"),
    (lambda: R.max_pool2d_naive(x4, (2, 2, 2)), ValueError, r"kernel_size must be an int or a pair"),
    (lambda: R.max_pool2d_backward(np.zeros((2, 3, 5, 4)), x4), ValueError, r"dout has shape \(2, 3, 5, 4\).*\(2, 3, 4, 4\)"),
    (lambda: R.avg_pool2d_backward(pooled[:1], x4), ValueError, r"dout has shape"),
    (lambda: R.min_pool2d_backward(pooled, x4, 3), ValueError, r"dout has shape"),
    # element-wise, dropout, linear, losses, padding
    (lambda: R.relu_backward(np.zeros(3), np.zeros(4)), ValueError, r"dout has shape \(3,\) but x has shape \(4,\)"),
    (lambda: R.dropout(x4, p=1.0), ValueError, r"p must be in \[0, 1\), got 1.0"),
    (lambda: R.dropout(x4, p=-0.1), ValueError, r"p must be in \[0, 1\)"),
    (lambda: R.dropout(x4, p="half"), TypeError, r"p must be a number"),
    (lambda: R.dropout(x4, rng="seed"), TypeError, r"rng must be"),
    (lambda: R.dropout_backward(np.zeros((2, 3)), np.zeros((3, 2))), ValueError, r"dout has shape \(2, 3\) but mask has shape \(3, 2\)"),
    (lambda: R.linear(np.zeros((2, 5)), np.zeros((3, 4))), ValueError, r"x of shape \(2, 5\) must end in in_features = 4.*\(3, 4\)"),
    (lambda: R.linear(np.zeros((2, 4)), np.zeros(4)), ValueError, r"w must have 2 dimensions"),
    (lambda: R.linear(np.zeros((2, 4)), np.zeros((3, 4)), np.zeros(4)), ValueError, r"b must have shape \(out_features,\) = \(3,\)"),
    (lambda: R.linear_backward(np.zeros((2, 4)), np.zeros((2, 4)), np.zeros((3, 4))), ValueError, r"dout has shape \(2, 4\).*\(2, 3\)"),
    (lambda: R.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3])), ValueError, r"labels must lie in \[0, 3\).*\(2, 3\)"),
    (lambda: R.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, -1])), ValueError, r"labels must lie in"),
    (lambda: R.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2])), ValueError, r"labels must have shape \(N,\) = \(2,\).*\(3,\)"),
    (lambda: R.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])), TypeError, r"labels must be integer"),
    (lambda: R.softmax_cross_entropy(np.zeros(3), np.array([0])), ValueError, r"logits must have 2 dimensions"),
    (lambda: R.pad2d(x4, 1, mode="reflect"), ValueError, r"mode must be one of"),
    (lambda: R.pad2d(x4, -1), ValueError, r"padding must be non-negative"),
    (lambda: R.pad2d(np.zeros((8, 8)), 1), ValueError, r"x must have 4 dimensions"),
    (lambda: R.output_size(3, 5, 1, 0), ValueError, r"kernel_size 5 is larger than the padded input"),
    (lambda: R.output_size(8, 3, 0), ValueError, r"stride must be at least 1"),
    (lambda: R.output_size(8, 3, 1, -1), ValueError, r"padding must be non-negative"),
    (lambda: R.flatten(np.float64(1.0)), ValueError, r"x must have a batch axis"),
]


@pytest.mark.parametrize("call,exception,message", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_bad_input_raises_a_clear_error(call, exception, message):
    with pytest.raises(exception, match=message):
        call()


def test_validate_helpers_normalise_arguments():
    assert pair(3, "stride") == (3, 3)
    assert pair((1, np.int64(2)), "stride") == (1, 2)
    with pytest.raises(TypeError, match="stride must be an int, got the bool"):
        pair(True, "stride")
    g = conv_geometry((1, 3, 7, 6), (2, 3, 4, 3), 1, "same")
    assert g.stride == (1, 1) and g.padding == (1, 2, 1, 1) and g.out_size == (7, 6)
    g = conv_geometry((1, 3, 7, 6), (2, 3, 3, 3), (2, 1), (1, 0))
    assert g.padding == (1, 1, 0, 0) and g.out_size == (4, 4)
    p = pool_geometry((1, 1, 5, 7), 3, None, 1)
    assert p.kernel_size == (3, 3) and p.stride == (3, 3) and p.out_size == (2, 3)
    assert output_size(224, 3, 1, 1) == 224
