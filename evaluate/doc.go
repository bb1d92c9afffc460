// Package evaluate is the last stage of the pipeline: it measures scores
// against labels. Given one score per model for every labeled flow (or
// feature-table row), Evaluate computes, for each model and the ensemble,
// ROC-AUC, PR-AUC (average precision), the confusion counts and precision,
// recall, F1 and FPR at the model's calibrated threshold (a sample is an
// alert when its score ≥ the threshold), the FPR at recall 0.9, the recall
// at FPR 0.001, and per attack label: flows, detected, recall, ROC-AUC
// against the benign samples only, and first-detection delay; plus the
// macro (mean per-label) ROC-AUC. Report.WriteDir writes report.json,
// report.md, roc.png and pr.png.
//
// The metrics match scikit-learn's on the same scores, ties included:
// roc_auc_score (trapezoid over distinct thresholds, computed here exactly
// from integer Mann-Whitney counts), average_precision_score (step-wise, no
// interpolation), and the operating points of roc_curve with every distinct
// threshold kept. testdata/gen_sklearn.py made the reference values the
// tests compare against.
//
// Undefined figures (an AUC with no benign or no attack samples, precision
// with no alerts) are null in JSON, never NaN, and the model's
// null_reasons says why.
//
// Evaluate radix-sorts each model's scores once and makes one pass over
// them: O(n) time per model and 36 bytes of scratch per sample, reused
// across models.
// Curves kept for plotting are downsampled to a few thousand points. The
// package reads no flags, environment or clock; it writes only the
// directory it is given.
package evaluate
