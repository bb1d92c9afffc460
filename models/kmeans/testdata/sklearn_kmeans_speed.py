#!/usr/bin/python3
# scikit-learn KMeans(8, n_init=1) fit on 1e6 x 20 uniform rows: the reference for
# BenchmarkKMeansFit (the KMeans part of /work/shared/bench/sklearn_speed.py alone).
# Run: /usr/bin/python3 testdata/sklearn_kmeans_speed.py
import time, numpy as np
from sklearn.cluster import KMeans
X = np.random.default_rng(0).random((1_000_000, 20))
t=time.perf_counter(); km=KMeans(n_clusters=8, n_init=1, random_state=0).fit(X); dt=time.perf_counter()-t
print("fit %.2f s n_iter %d inertia %.2f" % (dt, km.n_iter_, km.inertia_))
