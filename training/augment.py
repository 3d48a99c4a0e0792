"""Transfer-set augmentation for distillation (Tang et al. 2019, "Distilling task-specific
knowledge from BERT into simple neural networks"): per word, [MASK] with ``p_mask``, a random
training word with ``p_replace`` (unigram frequency; no POS tagger here) or dropped with
``p_drop``; then, with ``p_window``, only a random window of ``window`` words is kept.
The teacher labels every copy, so the changed meaning is labelled, not assumed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

MASK = "[MASK]"


@dataclass(frozen=True)
class AugmentConfig:
    """How many copies per training text and how each is perturbed (recorded in provenance)."""

    copies: int = 10
    p_mask: float = 0.1
    p_replace: float = 0.05
    p_drop: float = 0.1
    p_window: float = 0.25
    window: tuple[int, int] = (3, 8)
    seed: int = 13

    def to_dict(self) -> dict:
        return asdict(self)


def _one(words: list[str], cfg: AugmentConfig, rng: np.random.Generator, vocab: np.ndarray,
         cdf: np.ndarray) -> str:
    u = rng.random(len(words))
    out = []
    for word, r in zip(words, u, strict=True):
        if r < cfg.p_mask:
            out.append(MASK)
        elif r < cfg.p_mask + cfg.p_replace:
            out.append(str(vocab[min(int(np.searchsorted(cdf, rng.random())), len(vocab) - 1)]))
        elif r >= cfg.p_mask + cfg.p_replace + cfg.p_drop:
            out.append(word)
    if out and rng.random() < cfg.p_window:
        n = int(rng.integers(cfg.window[0], cfg.window[1] + 1))
        start = int(rng.integers(0, max(1, len(out) - n + 1)))
        out = out[start:start + n]
    return " ".join(out)


def augment(texts: list[str], cfg: AugmentConfig) -> list[str]:
    """``cfg.copies`` perturbed copies of every text (deterministic for ``cfg.seed``); copies
    that come out empty or equal to their source are left out."""
    rng = np.random.default_rng(cfg.seed)
    counts = Counter(w for t in texts for w in t.split())
    vocab = np.asarray(sorted(counts))
    cdf = np.cumsum(np.asarray([counts[w] for w in vocab], dtype=np.float64))
    cdf /= cdf[-1]
    out = []
    for _ in range(cfg.copies):
        for text in texts:
            new = _one(text.split(), cfg, rng, vocab, cdf)
            if new and new != text:
                out.append(new)
    return out
