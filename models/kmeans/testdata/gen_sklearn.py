#!/usr/bin/python3
# Run with Debian's python (apt-get install python3-sklearn):
#   cd models/kmeans/testdata && /usr/bin/python3 gen_sklearn.py
"""Writes the k-means parity fixture.

uniform.f32   20000 x 20 rows from numpy default_rng(20240601).random, stored
              as little-endian float32, row-major, no header (1.6 MB).
sklearn.json  scikit-learn's KMeans(8) inertia on those rows (read back as
              float64, exactly what the Go test sees): best of n_init=10 and
              n_init=1 for random_state 0..9, plus the versions used.
"""
import json

import numpy as np
import sklearn
from sklearn.cluster import KMeans

ROWS, COLS, K, SEED = 20000, 20, 8, 20240601

X32 = np.random.default_rng(SEED).random((ROWS, COLS)).astype("<f4")
X32.tofile("uniform.f32")
X = np.fromfile("uniform.f32", dtype="<f4").reshape(ROWS, COLS).astype(np.float64)

best = KMeans(n_clusters=K, n_init=10, random_state=0).fit(X)
single = [float(KMeans(n_clusters=K, n_init=1, random_state=s).fit(X).inertia_) for s in range(10)]

out = {
    "rows": ROWS,
    "cols": COLS,
    "k": K,
    "data_seed": SEED,
    "inertia_n_init_10": float(best.inertia_),
    "n_iter_n_init_10": int(best.n_iter_),
    "inertia_n_init_1": single,
    "sklearn": sklearn.__version__,
    "numpy": np.__version__,
}
with open("sklearn.json", "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(json.dumps(out, indent=1))
