#!/usr/bin/python3
# Regenerate with Debian's scikit-learn:  /usr/bin/python3 gen_sklearn.py  (in this directory)
"""Fixtures for the iforest parity tests.

data.csv        2000 Gaussian inliers + 100 outliers, 6 features, label in the
                last column (1 = outlier); values rounded to 3 decimals and
                exactly representable as float32 (scikit-learn's trees compare
                float32 inputs).
sklearn_scores.csv  -score_samples of IsolationForest(100 trees, random_state=0)
                on data.csv, one per row.
sklearn_auc.txt ROC-AUC of those scores against the labels.
trees.json      the node arrays of two small forests (ψ = 256 and ψ = 64) and
                their -score_samples on 300 rows, for the exact parity test.
"""
import json

import numpy as np
import sklearn
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

rng = np.random.default_rng(20240501)
d = 6
inl = rng.normal(size=(2000, d))
# Outliers: uniform in [-4, 4]^6 but at least 3 from the origin (overlapping
# the inliers' tail, so the AUC is informative rather than 1).
out = []
while len(out) < 100:
    p = rng.uniform(-4, 4, size=d)
    if np.linalg.norm(p) >= 3:
        out.append(p)
X = np.vstack([inl, np.array(out)])
y = np.r_[np.zeros(len(inl), int), np.ones(len(out), int)]
X = np.round(X, 3).astype(np.float32).astype(np.float64)


def f32(v):
    # Shortest decimal that round-trips as float32; parse with bitSize 32.
    return np.format_float_positional(np.float32(v), unique=True, trim="-")


with open("data.csv", "w") as fh:
    fh.write(",".join(["f%d" % i for i in range(d)] + ["label"]) + "\n")
    for row, lab in zip(X, y):
        fh.write(",".join(f32(v) for v in row) + ",%d\n" % lab)

iso = IsolationForest(n_estimators=100, random_state=0).fit(X)
s = -iso.score_samples(X)
with open("sklearn_scores.csv", "w") as fh:
    for v in s:
        fh.write(repr(float(v)) + "\n")
auc = roc_auc_score(y, s)
with open("sklearn_auc.txt", "w") as fh:
    fh.write("%.6f\n" % auc)
print("sklearn", sklearn.__version__, "AUC %.4f" % auc)

# Exact parity: small forests, all trees exported.
prng = np.random.default_rng(7)
idx = prng.choice(len(X), 200, replace=False)
far = np.round(prng.uniform(-8, 8, size=(100, d)), 3).astype(np.float32).astype(np.float64)
Q = np.vstack([X[idx], far])
fixture = {"sklearn_version": sklearn.__version__, "dim": d, "rows": Q.tolist(), "forests": []}
for n_est, ms, seed in [(4, 256, 1), (3, 64, 2)]:
    f = IsolationForest(n_estimators=n_est, max_samples=ms, random_state=seed).fit(X)
    trees = []
    for e in f.estimators_:
        t = e.tree_
        trees.append({
            "children_left": t.children_left.tolist(),
            "children_right": t.children_right.tolist(),
            "feature": t.feature.tolist(),
            "threshold": t.threshold.tolist(),
            "n_node_samples": t.n_node_samples.tolist(),
        })
    fixture["forests"].append({
        "max_samples": int(f.max_samples_),
        "trees": trees,
        "scores": (-f.score_samples(Q)).tolist(),
    })
with open("trees.json", "w") as fh:
    json.dump(fixture, fh, separators=(",", ":"))
