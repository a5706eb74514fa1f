"""Softmax cross-entropy: the loss and its gradient with respect to the logits, in one step.

    loss, dlogits = softmax_cross_entropy(logits, labels)

Shapes: logits (N, K) for K classes, labels (N,) integers in [0, K)
-> loss: a float (mean over the batch), dlogits: (N, K).

loss = mean_n [ log sum_k exp(logits[n, k]) - logits[n, labels[n]] ]
dlogits = (softmax(logits) - one_hot(labels)) / N
"""

import numpy as np

from cnnlab.checks import as_float_array, check_rank

__all__ = ["softmax_cross_entropy"]


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(logits) against integer class labels, and d loss / d logits.

    Computed through log-softmax (logits minus their log-sum-exp) so that neither
    exp() nor log() can overflow or underflow for large logits.

    Args:
        logits: unnormalised class scores (N, K). labels: integer classes (N,) in [0, K).

    Shape:
        logits (N, K), labels (N,) -> (loss: a float, the mean over the batch; dlogits: (N, K)),
        dlogits = (softmax(logits) - one_hot(labels)) / N.

    Example:
        >>> loss, dlogits = softmax_cross_entropy(np.zeros((2, 4)), np.array([0, 3]))
        >>> bool(np.isclose(loss, np.log(4))), dlogits[0]  # uniform guesses: loss log K
        (True, array([-0.375,  0.125,  0.125,  0.125]))
    """
    logits = as_float_array(logits, "logits")
    check_rank(logits.shape, 2, "logits", "(N, K)")
    labels = np.asarray(labels)
    N, K = logits.shape
    if labels.shape != (N,):
        raise ValueError(
            f"labels must have shape (N,) = ({N},) to match logits of shape {logits.shape}, got {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be integer class indices, got dtype {labels.dtype} (shape {labels.shape})")
    if N and (labels.min() < 0 or labels.max() >= K):
        raise ValueError(
            f"labels must lie in [0, {K}) for logits of shape {logits.shape}, "
            f"got min {labels.min()} max {labels.max()}"
        )
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(N)
    loss = -log_probs[rows, labels].mean()
    dlogits = np.exp(log_probs)
    dlogits[rows, labels] -= 1
    dlogits /= N
    return loss, dlogits
