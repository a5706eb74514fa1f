"""Softmax cross-entropy on torch tensors; autograd gives dlogits = (softmax - onehot) / N."""

import torch

from cnnlab.checks import check_rank
from cnnlab.torchops.tensor_checks import check_tensor

__all__ = ["softmax_cross_entropy"]


def softmax_cross_entropy(logits, labels):
    """Mean negative log-probability of the true class: ``mean(logsumexp(logits[i]) - logits[i, labels[i]])``.

    Equals ``F.cross_entropy(logits, labels)``. Unlike :func:`cnnlab.reference.softmax_cross_entropy`,
    which returns ``(loss, dlogits)``, this returns only the loss: call ``loss.backward()``.

    Args:
        logits: unnormalised class scores (N, K), floating. labels: integer classes (N,) in [0, K).

    Shape:
        logits (N, K), labels (N,) -> a scalar tensor.

    Example:
        >>> logits = torch.zeros(2, 4, requires_grad=True)
        >>> loss = softmax_cross_entropy(logits, torch.tensor([0, 3]))
        >>> round(loss.item(), 4), round(torch.log(torch.tensor(4.0)).item(), 4)  # uniform guesses: log K
        (1.3863, 1.3863)
    """
    check_tensor(logits, "logits", floating=True)
    check_tensor(labels, "labels")
    check_rank(logits.shape, 2, "logits", "(N, K)")
    check_rank(labels.shape, 1, "labels", "(N,)")
    N, K = logits.shape
    if labels.shape[0] != N:
        raise ValueError(f"labels has shape {tuple(labels.shape)} but logits has shape {tuple(logits.shape)}; need N={N} labels")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"labels must hold integer class indices, got dtype {labels.dtype} (shape {tuple(labels.shape)})")
    if N == 0:
        raise ValueError(f"logits has shape {tuple(logits.shape)}: the mean over an empty batch is undefined")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= K:
        raise ValueError(f"labels must be in [0, K) = [0, {K}) for logits of shape {tuple(logits.shape)}, got values in [{low}, {high}]")
    labels = labels.to(device=logits.device, dtype=torch.long)
    # log-sum-exp with the max pulled out, so exp never overflows
    row_max = logits.amax(dim=1, keepdim=True).detach()
    log_normaliser = row_max.squeeze(1) + (logits - row_max).exp().sum(dim=1).log()
    true_class_score = logits.gather(1, labels.reshape(N, 1)).squeeze(1)
    return (log_normaliser - true_class_score).mean()
