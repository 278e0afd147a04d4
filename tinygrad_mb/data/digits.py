"""The bundled UCI handwritten digits: 1797 grey 8x8 images of the digits 0-9.

Small enough to ship inside the package (45 kB) and to train on in seconds on
a laptop, yet real data: the 1797-image test part of "Optical Recognition of
Handwritten Digits" (E. Alpaydin and C. Kaynak, 1998, UCI Machine Learning
Repository, CC BY 4.0; see ``DIGITS_LICENSE.txt`` next to this file). Each
pixel counts the "on" pixels of a 4x4 block of a 32x32 bitmap, so it is an
integer from 0 to 16. Nothing is downloaded.
"""

from __future__ import annotations

import io
from importlib import resources

import numpy as np

from tinygrad_mb.data.datasets import ArrayData
from tinygrad_mb.errors import DataError

N_SAMPLES, IMAGE_SHAPE, N_CLASSES, MAX_PIXEL = 1797, (8, 8), 10, 16


def load_digits(scale: bool = False) -> ArrayData:
    """The bundled digits as :class:`ArrayData`: ``X`` float32 ``(1797, 64)``, ``y`` int64 ``(1797,)``.

    Args:
        scale: divide the pixels by 16, giving values in ``[0, 1]`` instead of ``[0, 16]``.

    To plot a sample as an image: ``X[i].reshape(meta["image_shape"])``.
    """
    raw = (resources.files("tinygrad_mb.data") / "digits.npz").read_bytes()
    with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
        images, labels = archive["images"], archive["labels"]
    if images.shape != (N_SAMPLES, *IMAGE_SHAPE) or labels.shape != (N_SAMPLES,):
        raise DataError(f"the bundled digits.npz is damaged: images {images.shape}, labels {labels.shape}; "
                        "reinstall tinygrad_mb")
    X = images.reshape(N_SAMPLES, -1).astype(np.float32)
    if scale:
        X /= MAX_PIXEL
    return ArrayData(X=X, y=labels.astype(np.int64), task="classification", name="digits", n_classes=N_CLASSES,
                     meta={"image_shape": IMAGE_SHAPE, "max_pixel": MAX_PIXEL,
                           "license": "CC BY 4.0 (UCI ML Repository; see DIGITS_LICENSE.txt)"})
