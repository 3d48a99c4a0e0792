"""Temperature scaling (Guo et al. 2017) folded into the final Dense, and calibration figures.

The temperature T minimizes the validation negative log-likelihood of ``sigmoid(logit / T)``;
dividing the classifier's kernel and bias by T gives the same graph with calibrated outputs
(accuracy and ROC-AUC unchanged). ECE uses 15 equal-width confidence bins.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from scipy.optimize import minimize_scalar

from training.fit import pad

BINS = 15


def logits(model: keras.Model, seqs: list[list[int]], batch: int = 256) -> np.ndarray:
    """The binary classifier's pre-sigmoid logit per text (float64)."""
    dense = model.get_layer("classifier")
    feats = keras.Model(model.input, dense.input)
    kernel, bias = (np.asarray(w, np.float64) for w in dense.get_weights())
    parts = [np.asarray(feats(pad(seqs[i:i + batch]), training=False), np.float64)
             for i in range(0, len(seqs), batch)]
    return (np.concatenate(parts) @ kernel + bias)[:, 0]


def nll(z: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def fit_temperature(z: np.ndarray, y: np.ndarray) -> float:
    """T > 0 minimizing the NLL of ``sigmoid(z / T)`` (searched over log T in [-3, 3])."""
    res = minimize_scalar(lambda t: nll(z / np.exp(t), y), bounds=(-3.0, 3.0), method="bounded")
    return float(np.exp(res.x))


def ece(p: np.ndarray, y: np.ndarray, bins: int = BINS) -> float:
    """Expected calibration error of binary probabilities ``p`` (confidence = max(p, 1-p))."""
    conf = np.maximum(p, 1 - p)
    correct = (p >= 0.5).astype(int) == y
    edges = np.linspace(0.5, 1.0, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    return float(sum(abs(correct[idx == b].mean() - conf[idx == b].mean()) * np.mean(idx == b)
                     for b in range(bins) if np.any(idx == b)))


def fold_temperature(model: keras.Model, t: float) -> None:
    """Divide the classifier's kernel and bias by ``t`` (no graph change)."""
    dense = model.get_layer("classifier")
    kernel, bias = dense.get_weights()
    dense.set_weights([(kernel / t).astype(np.float32), (bias / t).astype(np.float32)])


def reliability_plot(p_before: np.ndarray, p_after: np.ndarray, y: np.ndarray, path: Path) -> None:
    """Reliability diagram (accuracy vs confidence per bin), before and after scaling."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    edges = np.linspace(0.5, 1.0, BINS + 1)
    for p, name in ((p_before, "before"), (p_after, "after")):
        conf, correct = np.maximum(p, 1 - p), ((p >= 0.5).astype(int) == y)
        idx = np.clip(np.digitize(conf, edges[1:-1]), 0, BINS - 1)
        pts = [(conf[idx == b].mean(), correct[idx == b].mean()) for b in range(BINS) if np.any(idx == b)]
        ax.plot(*zip(*pts, strict=True), marker="o", label=f"{name} (ECE {ece(p, y):.3f})")
    ax.plot([0.5, 1], [0.5, 1], "k--", linewidth=0.8, label="perfect")
    ax.set(xlabel="confidence", ylabel="accuracy", title="reliability on the test split")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def calibrate(model: keras.Model, val: tuple[list[list[int]], np.ndarray],
              test: tuple[list[list[int]], np.ndarray]) -> tuple[dict, tuple]:
    """Fit T on validation, fold it in; returns the card summary and (p_before, p_after, y) on test."""
    t = fit_temperature(logits(model, val[0]), val[1])
    zt = logits(model, test[0])
    before = 1 / (1 + np.exp(-zt))
    fold_temperature(model, t)
    after = 1 / (1 + np.exp(-logits(model, test[0])))
    zv = logits(model, val[0])
    summary = {"temperature": round(t, 4), "fitted_on": "validation", "bins": BINS,
               "test_ece_before": round(ece(before, test[1]), 4),
               "test_ece_after": round(ece(after, test[1]), 4),
               "validation_ece_after": round(ece(1 / (1 + np.exp(-zv)), val[1]), 4),
               "validation_nll_after": round(nll(zv, val[1]), 4)}
    return summary, (before, after, test[1])
