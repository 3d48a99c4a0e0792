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
