"""Masked mean + max pooling over the recurrent outputs (the model stays many-to-one).

For ids [B,T] (0 = pad) and outputs y [B,T,H]: ``mean = sum_t(y*m) / max(len, 1)`` and
``max = max_t(where(m, y, -1e4))``, set to 0 for a row with no tokens; features are
``concat(mean, max)`` [B,2H]. Padded steps never contribute, whatever the recurrent layer
writes there (Keras carries its state over masked steps, onnxruntime zero-fills them), so the
fused ONNX export in :mod:`training.fuse` computes the same numbers with the same formula.
"""

from __future__ import annotations

import keras
from keras import ops

NEG = -1e4


@keras.saving.register_keras_serializable(package="sentiment")
class MaskedMeanMax(keras.layers.Layer):
    """``[outputs [B,T,H], ids [B,T]] -> [B,2H]`` masked mean and max over time."""

    def call(self, inputs, mask=None):  # noqa: ANN001, ANN201 - the ids carry the mask
        y, ids = inputs
        m = ops.cast(ops.not_equal(ids, 0), y.dtype)[:, :, None]
        lens = ops.sum(m, axis=1)  # [B,1]
        mean = ops.sum(y * m, axis=1) / ops.maximum(lens, 1.0)
        mx = ops.max(ops.where(m > 0, y, NEG), axis=1)
        mx = ops.where(lens > 0, mx, 0.0)
        return ops.concatenate([mean, mx], axis=-1)

    def compute_mask(self, inputs, mask=None):  # noqa: ANN001, ANN201
        return None

    def compute_output_shape(self, shapes):  # noqa: ANN001, ANN201
        y = shapes[0]
        return (y[0], 2 * y[2])
