#!/usr/bin/python3
"""Make the scikit-learn reference fixtures for evaluate's metric tests.

Run once, from this directory, with Debian's python3 (python3-sklearn):

    /usr/bin/python3 gen_sklearn.py

It writes sklearn_<name>.csv (columns: label, score_a, score_b; "benign" is the
negative class, every other label is an attack) and sklearn_expected.json with,
for every fixture and score column, the values scikit-learn computes on the same
scores. The Go tests in ../metrics_test.go compare against them to 1e-12.
Scores are rounded so that there are many ties, including ties that straddle
benign and attack samples and ties exactly at the threshold.
"""
import csv
import json

import numpy as np
import sklearn
from sklearn.metrics import (average_precision_score, confusion_matrix,
                             f1_score, precision_score, recall_score,
                             roc_auc_score, roc_curve)

BENIGN = "benign"


def make(rng, n_benign, attacks, decimals):
    """attacks: list of (label, count, mean shift) drawn against N(0,1) benign."""
    labels = [BENIGN] * n_benign
    a = list(rng.normal(0.0, 1.0, n_benign))
    b = list(rng.exponential(1.0, n_benign))
    for label, count, shift in attacks:
        labels += [label] * count
        a += list(rng.normal(shift, 1.0, count))
        b += list(rng.exponential(1.0 + shift, count))
    a = np.round(np.array(a), decimals)
    b = np.round(np.array(b), decimals)
    perm = rng.permutation(len(labels))
    return [labels[i] for i in perm], a[perm], b[perm]


def metrics(labels, score, threshold):
    labels = np.asarray(labels)
    y = (labels != BENIGN).astype(int)
    pred = (score >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False)
    per_label = {}
    for label in sorted(set(labels) - {BENIGN}):
        m = (labels == label) | (labels == BENIGN)
        yl = (labels[m] == label).astype(int)
        detected = int(np.sum(score[labels == label] >= threshold))
        flows = int(np.sum(labels == label))
        per_label[label] = {
            "flows": flows,
            "detected": detected,
            "recall": detected / flows,
            "roc_auc": float(roc_auc_score(yl, score[m])),
        }
    return {
        "threshold": threshold,
        "roc_auc": float(roc_auc_score(y, score)),
        "pr_auc": float(average_precision_score(y, score)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred)),
        "f1": float(f1_score(y, pred)),
        "fpr": float(fp / (fp + tn)),
        "tp": int(tp), "fp": int(fp), "tn": int(tn), "fn": int(fn),
        "fpr_at_recall_0.9": float(np.min(fpr[tpr >= 0.9])),
        "recall_at_fpr_0.001": float(np.max(tpr[fpr <= 0.001])),
        "per_label": per_label,
        "macro_roc_auc": float(np.mean([v["roc_auc"] for v in per_label.values()])),
    }


def main():
    rng = np.random.default_rng(20240517)
    fixtures = {
        # few distinct values: ties everywhere
        "ties": (make(rng, 240, [("portscan", 60, 1.5), ("synflood", 80, 0.5),
                                 ("bruteforce", 20, 3.0)], 1), (0.8, 1.5)),
        # integer scores only: the heaviest ties
        "coarse": (make(rng, 300, [("dns_exfil", 50, 1.0), ("beacon", 50, 0.2)], 0),
                   (1.0, 2.0)),
        # more than 1000 benign so FPR <= 0.001 allows a false positive
        "lowfpr": (make(rng, 2500, [("portscan", 300, 2.5), ("ssh", 40, 4.0),
                                    ("sqli", 25, 0.3)], 2), (2.33, 3.0)),
    }
    out = {"sklearn_version": sklearn.__version__, "fixtures": {}}
    for name, ((labels, a, b), (ta, tb)) in fixtures.items():
        with open(f"sklearn_{name}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["label", "score_a", "score_b"])
            for row in zip(labels, a, b):
                w.writerow([row[0], repr(float(row[1])), repr(float(row[2]))])
        out["fixtures"][name] = {
            "score_a": metrics(labels, a, ta),
            "score_b": metrics(labels, b, tb),
        }
    with open("sklearn_expected.json", "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
