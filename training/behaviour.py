"""Behavioural tests in the style of CheckList (Ribeiro et al. 2020), generated in code.

Capabilities (label 1 = positive):

- ``negation`` (MFT): negated negative adjectives are positive, negated positive ones negative;
- ``intensifiers`` (DIR): "very good" keeps the label of "good" and is not less sure of it
  (tolerance 0.05 in probability);
- ``names`` (INV): swapping the person named in a sentence leaves the label unchanged;
- ``punctuation`` / ``typos`` (INV): the first ``n_inv`` texts given (the test split), with the
  final punctuation removed or " !" added, or two letters of one word swapped, keep their label;
- ``oov_domain`` (MFT): product and restaurant sentences with clearly polar adjectives.

Every case list is deterministic. ``run`` takes any ``predict(texts) -> probabilities [n, 2]``
(onnxruntime in tests and in the bundle card), so this module needs no TensorFlow.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import numpy as np

Predict = Callable[[list[str]], np.ndarray]
SUBJECTS = ["the movie", "this film", "the script", "the acting", "the story"]
POS = ["good", "great", "funny", "brilliant", "enjoyable", "moving", "clever", "charming"]
NEG = ["bad", "boring", "dull", "awful", "terrible", "tedious", "stupid", "bland"]
NEGATIONS = ["{s} is not {a} .", "{s} isn't {a} at all .", "i would never call {s} {a} .",
             "{s} was not {a} .", "no one could say {s} is {a} ."]
INTENSIFIERS = ["very", "really", "incredibly", "extremely", "truly"]
NAMES = ["John", "Maria", "Wei", "Aisha", "Pedro", "Olga", "Kenji", "Fatima"]
NAME_TEMPLATES = ["{n} gives a {a} performance .", "{n} 's new film is {a} .",
                  "as the lead , {n} is {a} ."]
NOUNS = ["the pasta", "the waiter", "the sushi", "the espresso", "the laptop", "the battery",
         "the headphones", "the charger", "the blender", "the hotel room"]
OOV_POS = ["delicious", "excellent", "fantastic", "amazing", "superb"]
OOV_NEG = ["terrible", "disgusting", "broken", "awful", "horrible"]


def negation_cases() -> list[tuple[str, int]]:
    pos = [(t.format(s=s, a=a), 1) for t, s, a in itertools.product(NEGATIONS, SUBJECTS, NEG)]
    neg = [(t.format(s=s, a=a), 0) for t, s, a in itertools.product(NEGATIONS, SUBJECTS, POS)]
    return pos + neg


def oov_cases() -> list[tuple[str, int]]:
    out = []
    for noun, t in itertools.product(NOUNS, ["{n} was {a} .", "{n} is {a} ."]):
        out += [(t.format(n=noun, a=a), 1) for a in OOV_POS] + [(t.format(n=noun, a=a), 0) for a in OOV_NEG]
    return out


def _typo(text: str, rng: random.Random) -> str:
    words = text.split()
    long = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not long:
        return text
    i = rng.choice(long)
    j = rng.randrange(len(words[i]) - 1)
    w = words[i]
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


def _punct(text: str) -> str:
    t = text.rstrip()
    return t[:-1].rstrip() if t and t[-1] in ".!?" else t + " !"


def _mft(predict: Predict, cases: list[tuple[str, int]]) -> dict:
    p = predict([t for t, _ in cases])[:, 1]
    ok = (p >= 0.5).astype(int) == np.asarray([y for _, y in cases])
    return {"kind": "MFT", "cases": len(cases), "pass_rate": round(float(ok.mean()), 4)}


def _inv(predict: Predict, pairs: list[tuple[str, str]]) -> dict:
    a = predict([x for x, _ in pairs])[:, 1] >= 0.5
    b = predict([y for _, y in pairs])[:, 1] >= 0.5
    return {"kind": "INV", "cases": len(pairs), "pass_rate": round(float(np.mean(a == b)), 4)}


def _intensifiers(predict: Predict) -> dict:
    base = [(f"{s} is {a} .", y) for s in SUBJECTS for a, y in [(a, 1) for a in POS] + [(a, 0) for a in NEG]]
    pairs = [(t, t.replace(" is ", f" is {i} "), y) for (t, y), i in itertools.product(base, INTENSIFIERS)]
    p0 = predict([t for t, _, _ in pairs])[:, 1]
    p1 = predict([t for _, t, _ in pairs])[:, 1]
    y = np.asarray([y for _, _, y in pairs])
    sure0, sure1 = np.where(y == 1, p0, 1 - p0), np.where(y == 1, p1, 1 - p1)
    ok = (sure1 >= 0.5) & (sure1 >= sure0 - 0.05)
    return {"kind": "DIR", "cases": len(pairs), "pass_rate": round(float(ok.mean()), 4)}


def run(predict: Predict, texts: list[str], n_inv: int = 300) -> dict:
    """Pass rate per capability; ``texts`` (e.g. the test split) feed the INV perturbations."""
    rng = random.Random(13)
    base = texts[:n_inv]
    names = [(t.format(n=a, a=adj), t.format(n=b, a=adj))
             for t in NAME_TEMPLATES for adj in POS[:4] + NEG[:4]
             for a, b in itertools.pairwise(NAMES)]
    neg = negation_cases()
    return {
        "negation": _mft(predict, neg),
        "negation_of_negative": _mft(predict, [c for c in neg if c[1] == 1]),
        "negation_of_positive": _mft(predict, [c for c in neg if c[1] == 0]),
        "intensifiers": _intensifiers(predict),
        "names": _inv(predict, names),
        "punctuation": _inv(predict, [(t, _punct(t)) for t in base]),
        "typos": _inv(predict, [(t, _typo(t, rng)) for t in base]),
        "oov_domain": _mft(predict, oov_cases()),
    }
