"""Training curves: loss/accuracy per epoch and gradient norm per step, as one PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def training_plot(epochs: dict[str, list[float]], grad_norms: list[float],
                  clipnorm: float | None, path: Path) -> None:
    """Write a 3-panel PNG: loss, accuracy (train vs validation) and per-step gradient norm."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, key in zip(axes[:2], ("loss", "accuracy"), strict=True):
        xs = range(1, len(epochs.get(key, [])) + 1)
        ax.plot(xs, epochs.get(key, []), marker="o", label="train")
        ax.plot(xs, epochs.get(f"val_{key}", []), marker="o", label="validation")
        ax.set(title=key, xlabel="epoch")
        ax.legend()
    axes[2].plot(grad_norms, linewidth=0.6)
    if clipnorm:
        axes[2].axhline(clipnorm, color="red", linestyle="--", label=f"clipnorm {clipnorm}")
        axes[2].legend()
    axes[2].set(title="global gradient norm (before clipping)", xlabel="step", yscale="log")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
