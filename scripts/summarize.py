#!/usr/bin/python3
"""Summarize the report.json files that evaluate-shared.sh left in OUT as markdown tables.

usage: summarize.py OUT [REVISION]

Reads only what exists under OUT (nsl/, lab/, scans/); standard library only.
"""
import json
import os
import re
import sys

MODELS = ("iforest", "kmeans", "ensemble")


def load(path):
    with open(path) as f:
        return json.load(f)


def f4(x):
    return "-" if x is None else "%.4f" % x


def f3(x):
    return "-" if x is None else "%.3f" % x


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def seeds(d):
    """seed directories under d, in numeric order: [(seed, path)]."""
    if not os.path.isdir(d):
        return []
    got = []
    for name in os.listdir(d):
        m = re.fullmatch(r"seed(\d+)", name)
        if m:
            got.append((int(m.group(1)), os.path.join(d, name)))
    return sorted(got)


def nsl(out):
    d = os.path.join(out, "nsl")
    ss = seeds(d)
    if not ss:
        return
    print("## NSL-KDD (train: normal rows of KDDTrain+_20Percent)\n")
    for test in ("KDDTest+", "KDDTest-21"):
        rows = []
        for seed, sd in ss:
            p = os.path.join(sd, test, "report.json")
            if not os.path.exists(p):
                continue
            r = load(p)
            row = ["vigil", seed]
            for m in MODELS:
                b = r["models"][m]
                row += [f4(b["roc_auc"]), f4(b["pr_auc"])]
            row += [f4(r["models"]["ensemble"]["macro_roc_auc"])]
            rows.append(row)
        sk = os.path.join(d, "sklearn-%s.txt" % test)
        if os.path.exists(sk):
            res = {}
            for line in open(sk):
                m = re.match(r"(iforest|kmeans8) seed=(\d+) roc_auc=([\d.]+) pr_auc=([\d.]+)", line)
                if m:
                    res.setdefault(int(m.group(2)), {})[m.group(1)] = (float(m.group(3)), float(m.group(4)))
            for seed in sorted(res):
                i, k = res[seed].get("iforest"), res[seed].get("kmeans8")
                rows.append(["scikit-learn", seed,
                             f4(i and i[0]), f4(i and i[1]), f4(k and k[0]), f4(k and k[1]), "-", "-", "-"])
        if rows:
            print("### %s\n" % test)
            print(table(["who", "seed", "iforest ROC", "iforest PR", "kmeans ROC", "kmeans PR",
                         "ensemble ROC", "ensemble PR", "ensemble macro ROC"], rows))
            print("\n(scikit-learn: IsolationForest(100, 256) and KMeans(8), log1p + standardized.)\n")


def headline(r):
    rows = []
    for m in MODELS:
        b = r["models"][m]
        rows.append([m, f4(b["roc_auc"]), f4(b["macro_roc_auc"]), f4(b["pr_auc"]),
                     f4(b["recall"]), f4(b["fpr"]), "%d/%d" % (b["fp"], b["fp"] + b["tn"]),
                     f4(b.get("fpr_at_recall_0.9")), f4(b.get("recall_at_fpr_0.001"))])
    return rows


HEAD = ["model", "ROC-AUC", "macro per-label ROC-AUC", "PR-AUC", "recall @thr",
        "benign FPR @thr", "benign FP", "FPR @recall 0.9", "recall @FPR 0.001"]


def per_label(r):
    labels = sorted(r["counts"]["per_label"])
    rows = []
    for l in labels:
        pl = {m: r["models"][m]["per_label"].get(l, {}) for m in MODELS}
        row = [l, r["counts"]["per_label"][l]]
        row += [f3(pl[m].get("recall")) for m in MODELS]
        row += [f3(pl[m].get("roc_auc")) for m in MODELS]
        row += [f3(pl["ensemble"].get("first_detection_delay_s"))]
        rows.append(row)
    return rows


PL_HEAD = ["label", "flows", "recall iforest", "recall kmeans", "recall ensemble",
           "ROC iforest", "ROC kmeans", "ROC ensemble", "first detection (s, ensemble)"]


def acceptance(r):
    """issue 8's bar: every label recall >= 0.9, benign FPR <= 0.5%, macro ROC >= 0.98."""
    out = []
    for m in MODELS:
        b = r["models"][m]
        low = [l for l, p in sorted(b["per_label"].items()) if (p.get("recall") or 0) < 0.9]
        ok = not low and b["fpr"] <= 0.005 and (b["macro_roc_auc"] or 0) >= 0.98
        out.append("- %s: %s (labels below recall 0.9: %s; benign FPR %.4f; macro ROC-AUC %.4f)"
                   % (m, "PASS" if ok else "FAIL", ", ".join(low) or "none", b["fpr"], b["macro_roc_auc"]))
    return "\n".join(out)


def lab(out):
    ss = seeds(os.path.join(out, "lab"))
    if not ss:
        return
    print("## Lab (train: lab/baseline.pcap)\n")
    for name, title in (("lab", "lab/mixed.pcap, label windows"),
                        ("insider", "lab-insider/mixed.pcap, per-flow labels")):
        rs = [(seed, load(os.path.join(sd, name, "report.json"))) for seed, sd in ss
              if os.path.exists(os.path.join(sd, name, "report.json"))]
        if not rs:
            continue
        r0 = rs[0][1]
        c = r0["counts"]
        print("### %s: %d flows, %d benign, %d attack\n" % (title, c["flows"], c["benign"], c["attack"]))
        rows = []
        for seed, r in rs:
            rows += [[seed] + row for row in headline(r)]
        print(table(["seed"] + HEAD, rows))
        print("\nPer label, seed %d (ROC-AUC: that label's flows against the benign flows):\n" % rs[0][0])
        print(table(PL_HEAD, per_label(r0)))
        print("\nIssue 8 acceptance (seed %d, calibrated thresholds):\n" % rs[0][0])
        print(acceptance(r0))
        print()


def scans(out):
    d = os.path.join(out, "scans")
    for name, title in (("monday", "train: CIC-IDS2017 Monday packets 1-3000"),
                        ("lab-monday", "train: lab/baseline.pcap + Monday packets 1-3000")):
        p = os.path.join(d, name, "report.json")
        if not os.path.exists(p):
            continue
        r = load(p)
        c = r["counts"]
        print("## Slips + ESnet captures (%s)\n" % title)
        print("Benign background: Monday packets 3001-6000, whois.pcap, test7's benign flows. "
              "%d flows, %d benign, %d attack.\n" % (c["flows"], c["benign"], c["attack"]))
        print(table(HEAD, headline(r)))
        print()
        print(table(PL_HEAD, per_label(r)))
        print()


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: summarize.py OUT [REVISION]")
    out = sys.argv[1]
    print("# vigil evaluation on the shared data%s\n"
          % ((" (built from %s)" % sys.argv[2]) if len(sys.argv) > 2 else ""))
    nsl(out)
    lab(out)
    scans(out)


if __name__ == "__main__":
    main()
