"""The data sets the examples train on, as tensors already on the training device.

Both ship inside scikit-learn, so the examples never download anything.  The train/validation
split is fixed (it does not follow ``--seed``), so runs with different seeds are compared on
the same validation set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

SPLIT_SEED = 0
VAL_FRACTION = 0.2


@dataclass(frozen=True)
class Split:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    names: tuple[str, ...]  # class names (digits) or feature names (diabetes)


def _split_indices(n: int, stratify: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    return train_test_split(
        np.arange(n), test_size=VAL_FRACTION, random_state=SPLIT_SEED, stratify=stratify
    )


def digits(device: torch.device, limit: int | None = None) -> Split:
    """8x8 digit images as float (N, 1, 8, 8) in [0, 1], labels as int64."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]
    labels = bunch.target.astype(np.int64)
    train, val = _split_indices(len(labels), stratify=labels)
    train = train[:limit]
    return Split(
        x_train=torch.from_numpy(images[train]).to(device),
        y_train=torch.from_numpy(labels[train]).to(device),
        x_val=torch.from_numpy(images[val]).to(device),
        y_val=torch.from_numpy(labels[val]).to(device),
        names=tuple(str(name) for name in bunch.target_names),
    )


def diabetes(device: torch.device, limit: int | None = None) -> Split:
    """Ten standardised features and a standardised target, float32, shape (N, 10) and (N, 1).

    Standardising with the training statistics keeps one learning rate right for every
    feature, which is what plain SGD on ``y = Wx + b`` needs.
    """
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False)
    x = bunch.data.astype(np.float32)
    y = bunch.target.astype(np.float32)[:, None]
    train, val = _split_indices(len(y), stratify=None)
    train = train[:limit]
    x_mean, x_std = x[train].mean(axis=0), x[train].std(axis=0)
    y_mean, y_std = y[train].mean(axis=0), y[train].std(axis=0)
    x = (x - x_mean) / np.where(x_std > 0, x_std, 1.0)
    y = (y - y_mean) / np.where(y_std > 0, y_std, 1.0)
    return Split(
        x_train=torch.from_numpy(x[train]).to(device),
        y_train=torch.from_numpy(y[train]).to(device),
        x_val=torch.from_numpy(x[val]).to(device),
        y_val=torch.from_numpy(y[val]).to(device),
        names=tuple(bunch.feature_names),
    )
