"""Test-split metrics for the model and a TF-IDF + logistic-regression baseline, side by side."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score


def metrics(y_true: np.ndarray, probs: np.ndarray) -> dict:
    """Accuracy, macro-F1, ROC-AUC (binary only) and the confusion matrix (rows = truth)."""
    pred = probs.argmax(axis=1)
    out = {
        "accuracy": round(float(accuracy_score(y_true, pred)), 4),
        "macro_f1": round(float(f1_score(y_true, pred, average="macro")), 4),
        "confusion_matrix": confusion_matrix(y_true, pred, labels=range(probs.shape[1])).tolist(),
        "n": int(len(y_true)),
    }
    if probs.shape[1] == 2:
        out["roc_auc"] = round(float(roc_auc_score(y_true, probs[:, 1])), 4)
    return out


def baseline(train_texts: list[str], train_y: np.ndarray, test_texts: list[str],
             test_y: np.ndarray, seed: int) -> dict:
    """TF-IDF (word 1-2 grams, sublinear tf) + logistic regression on the same split."""
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, lowercase=True)
    clf = LogisticRegression(C=4.0, max_iter=2000, random_state=seed)
    clf.fit(vec.fit_transform(train_texts), train_y)
    probs = clf.predict_proba(vec.transform(test_texts))
    out = metrics(test_y, probs)
    out["model"] = "tfidf(1-2gram, sublinear) + logistic regression (C=4)"
    return out


def nbsvm(train_texts: list[str], train_y: np.ndarray, val_texts: list[str], val_y: np.ndarray,
          test_texts: list[str], test_y: np.ndarray, seed: int) -> dict:
    """NB-weighted binary 1-2-gram logistic regression (NBSVM-style, Wang & Manning 2012).

    Features are binarized n-gram counts scaled by the log-count ratio r (alpha = 1); C is
    chosen on the validation split from a small grid.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    vec = CountVectorizer(ngram_range=(1, 2), binary=True, lowercase=True,
                          token_pattern=r"(?u)\b\w+\b|[^\w\s]")
    x = vec.fit_transform(train_texts)
    pos, neg = (np.asarray(x[train_y == c].sum(axis=0)).ravel() + 1.0 for c in (1, 0))
    r = np.log((pos / pos.sum()) / (neg / neg.sum()))
    xs, xv, xt = (m.multiply(r).tocsr() for m in (x, vec.transform(val_texts), vec.transform(test_texts)))
    best = None
    for c in (0.1, 0.3, 1.0, 3.0):
        clf = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(xs, train_y)
        acc = float(accuracy_score(val_y, clf.predict(xv)))
        if best is None or acc > best[0]:
            best = (acc, c, clf)
    out = metrics(test_y, best[2].predict_proba(xt))
    out["model"] = f"NB-weighted binary 1-2-gram logistic regression (C={best[1]} on validation)"
    out["validation_accuracy"] = round(best[0], 4)
    return out
