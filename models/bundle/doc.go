// Package bundle is the model file: everything train learns, in one file
// that detect and evaluate load. It owns the file format (Save, Load,
// Read), its verification, and Scorer, which turns raw feature vectors into
// Scores with the bundle's scaler, models and thresholds.
//
// # Format
//
// A 52-byte little-endian header (magic "VIGILMDL", format version,
// flags, payload length, SHA-256 of the payload; see HeaderLen) followed by
// the payload: the gzip'd JSON of Bundle. Bundle.Hash, the hex SHA-256 of
// the payload, is the model id alerts carry.
//
// Why gzip'd JSON rather than a binary layout: the file is inspectable with
// standard tools (tail -c +53 model.vgl | zcat | jq .thresholds); float64
// values round-trip exactly (encoding/json writes the shortest decimal that
// strconv parses back to the same bits); decoding only fills the fixed Go
// types declared here, so nothing in the file chooses what gets
// instantiated (never gob); new optional fields are cheap to add; and
// models are small (a 100-tree forest is a few MB of JSON, well under that
// gzip'd) and loaded once, so a compact binary encoding would buy little.
// The price is a decoding pass over text, bounded below.
//
// # Verification
//
// Load checks, in order and each with its own error (errors.Is against the
// Err… values): magic, format version (a newer one is refused, naming both
// versions), flags, payload length (≤ MaxPayload and = the rest of the
// file, before anything is allocated for it), SHA-256, gzip with a
// decompressed-size bound proportional to the payload (no gzip bombs),
// strict JSON (unknown fields refused: a format change bumps the version),
// then the contents: schema hash recomputed and compared, unique feature
// names, scaler and models Validate'd, dimensions equal to the schema
// length, thresholds finite and positive. A bundle that loads scores every
// vector of the right length to finite numbers without panicking.
//
// Saving is atomic: a temporary file in the target directory, fsync'd,
// then renamed into place; an existing file is replaced only when asked.
//
// # Scores and allocation
//
// Scorer.Score scales a raw vector (non-finite values replaced and counted
// by the scaler), scores it with each model present (isolation forest:
// 2^(−E[h]/c(ψ)); k-means: distance to the nearest centroid in scaled
// units, optionally over the cluster's radius) and combines them with
// models.Ensemble (the mean of score/threshold). Score and Explain do not
// allocate (Explain given dst with capacity n); ScoreBatch (vectors back
// to back) and ScoreRows (one slice each) score many vectors at once with
// the same results bit for bit (the forest eight rows at a time, k-means
// through kmeans.Batch), keeping the scaled rows for ExplainRow, and
// allocate only to grow their buffers. A Scorer is for one
// goroutine, a Bundle is shared read-only. Save and Load allocate in
// proportion to the file.
//
// The thresholds are set by whoever fits the models (train.Fit calibrates
// them on held-out scores); a bundle only carries and validates them.
package bundle
