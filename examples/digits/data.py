"""The scikit-learn digits dataset (1,797 grey 8x8 images of 0-9, bundled with scikit-learn,
nothing downloaded) with a fixed, stratified 80/20 train/test split.

Images are float32 NCHW ``(N, 1, 8, 8)`` scaled from 0..16 to [0, 1]; labels are int64.
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

TEST_SIZE = 0.2
SPLIT_SEED = 0


def load_split():
    """``(x_train, y_train, x_test, y_test)`` as numpy arrays: images float32 ``(N, 1, 8, 8)``
    in [0, 1], labels int64. The split is the same on every call (seeded, stratified)."""
    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_SIZE, random_state=SPLIT_SEED, stratify=y)
    return (np.ascontiguousarray(x_train), np.ascontiguousarray(y_train),
            np.ascontiguousarray(x_test), np.ascontiguousarray(y_test))
