package features

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// Feature describes one column of a feature vector.
type Feature struct {
	Name        string `json:"name"`
	Unit        string `json:"unit"`
	Description string `json:"description"`
	// Count is true for non-negative count-like features (packets, bytes,
	// durations) that a scaler may log1p-transform.
	Count bool `json:"count,omitempty"`
}

// Schema is a versioned, ordered list of features. Its Hash identifies it:
// two vectors are comparable only when their schemas hash the same.
type Schema struct {
	Name     string    `json:"name"`    // e.g. "flow", "nsl-kdd"
	Version  int       `json:"version"` // bumped whenever a feature changes meaning
	Features []Feature `json:"features"`
}

// Len returns the number of features.
func (s *Schema) Len() int { return len(s.Features) }

// Names returns the feature names in order.
func (s *Schema) Names() []string {
	n := make([]string, len(s.Features))
	for i, f := range s.Features {
		n[i] = f.Name
	}
	return n
}

// Index returns the position of the named feature, or -1.
func (s *Schema) Index(name string) int {
	for i, f := range s.Features {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// Hash returns the hex SHA-256 of the schema's name, version and the
// name, unit and count flag of every feature, in order. Descriptions are
// not part of the hash: rewording one does not invalidate models.
func (s *Schema) Hash() string {
	h := sha256.New()
	w := func(b string) {
		h.Write([]byte(strconv.Itoa(len(b))))
		h.Write([]byte{':'})
		h.Write([]byte(b))
	}
	w(s.Name)
	w(strconv.Itoa(s.Version))
	for _, f := range s.Features {
		w(f.Name)
		w(f.Unit)
		w(strconv.FormatBool(f.Count))
	}
	return hex.EncodeToString(h.Sum(nil))
}
