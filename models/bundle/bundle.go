package bundle

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/models/iforest"
	"github.com/vigil-nids/vigil/models/kmeans"
	"github.com/vigil-nids/vigil/models/scale"
)

// File layout constants. The header is HeaderLen bytes, little-endian:
//
//	offset  size  field
//	0       8     magic "VIGILMDL"
//	8       2     format version (uint16)
//	10      2     flags (uint16; bit 0: payload is gzip'd, always set in v1)
//	12      8     payload length in bytes (uint64)
//	20      32    SHA-256 of the payload
//	52      …     payload
const (
	Magic     = "VIGILMDL"
	Version   = 1
	HeaderLen = 52

	flagGzip  = 1 << 0
	knownFlag = flagGzip
)

// Size limits enforced by Read and Load before allocating.
const (
	// MaxPayload bounds the compressed payload.
	MaxPayload = 256 << 20
	// MaxDecompressed bounds the JSON document. The bound actually applied
	// is the smaller of this and 4 MiB + 64 × the payload length: real
	// bundles compress 2–10×, so a payload that expands more is a gzip bomb,
	// and a 100-byte file cannot make Load hold more than a few MiB.
	MaxDecompressed = 512 << 20
	// MaxFeatures bounds the schema length.
	MaxFeatures = scale.MaxDim
)

// Errors that Read and Load wrap; test with errors.Is.
var (
	ErrNotModel  = errors.New("not a vigil model")
	ErrTruncated = errors.New("truncated model file")
	ErrNewer     = errors.New("model written by a newer vigil")
	ErrChecksum  = errors.New("model checksum mismatch")
	ErrTooLarge  = errors.New("model too large")
	ErrCorrupt   = errors.New("corrupt model")
	ErrSchema    = errors.New("feature schema mismatch")
)

// Bundle is everything detect and evaluate need to score vectors: the
// feature schema, the scaler, the models, their thresholds and where they
// came from. Its JSON form (the exported fields) is the file's payload.
// At least one of Forest and KMeans is set.
type Bundle struct {
	Schema features.Schema `json:"schema"`
	// SchemaHash is Schema.Hash() when the bundle was written; Save fills
	// it in and Load checks it.
	SchemaHash string `json:"schema_hash"`
	// Extractor holds the feature extractor's settings (timeouts, windows…)
	// and Encoder a categorical encoder's state (datasets with categorical
	// columns): opaque here, interpreted by their owners.
	Extractor json.RawMessage `json:"extractor,omitempty"`
	Encoder   json.RawMessage `json:"encoder,omitempty"`

	Scaler *scale.Scaler   `json:"scaler"`
	Forest *iforest.Forest `json:"iforest,omitempty"`
	KMeans *kmeans.Model   `json:"kmeans,omitempty"`

	Thresholds Thresholds `json:"thresholds"`
	TargetFPR  float64    `json:"target_fpr"`
	Meta       Meta       `json:"meta"`

	hash string // hex SHA-256 of the payload last saved or loaded
}

// Thresholds are the calibrated alert thresholds (models.Calibrate): a
// score alerts when it is at least the threshold. An absent model's threshold is 0.
type Thresholds struct {
	IForest  float64 `json:"iforest"`
	KMeans   float64 `json:"kmeans"`
	Ensemble float64 `json:"ensemble"`
}

// Meta is the training record: what went in and how it went.
type Meta struct {
	Inputs  []Input `json:"inputs,omitempty"`
	Packets int64   `json:"packets"`
	Flows   int64   `json:"flows"`
	Rows    int64   `json:"rows"`     // rows the models were fitted on
	HeldOut int64   `json:"held_out"` // rows the thresholds were calibrated on
	Seed    uint64  `json:"seed"`
	// Created is given by the caller (train); packages never read the clock.
	Created      time.Time `json:"created"`
	VigilVersion string    `json:"vigil_version"`
	GoVersion    string    `json:"go_version,omitempty"`
	Timings      []Timing  `json:"timings,omitempty"`
}

// Input fingerprints one training input file.
type Input struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Timing is the wall time of one training stage, as measured by the caller.
type Timing struct {
	Stage   string  `json:"stage"`
	Seconds float64 `json:"seconds"`
}

// Fingerprint returns path's size and SHA-256, reading it once.
func Fingerprint(path string) (Input, error) {
	f, err := os.Open(path)
	if err != nil {
		return Input{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Input{}, fmt.Errorf("fingerprint %q: %w", path, err)
	}
	return Input{Path: path, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// FingerprintAll fingerprints every path in order.
func FingerprintAll(paths []string) ([]Input, error) {
	out := make([]Input, 0, len(paths))
	for _, p := range paths {
		in, err := Fingerprint(p)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// Hash returns the hex SHA-256 of the bundle's payload: the model id in
// alerts. For a bundle that was loaded or saved it is the hash in the file;
// for one never written it encodes the payload (and returns "" when the
// bundle cannot be encoded).
func (b *Bundle) Hash() string {
	if b.hash != "" {
		return b.hash
	}
	p, err := b.encode()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(p)
	return hex.EncodeToString(sum[:])
}

// CheckSchema returns an error wrapping ErrSchema, naming both schemas and
// their hashes, unless s hashes the same as the bundle's schema.
func (b *Bundle) CheckSchema(s *features.Schema) error {
	want, got := b.Schema.Hash(), s.Hash()
	if want == got {
		return nil
	}
	return fmt.Errorf("%w: model was trained on %s v%d (%d features, hash %s), extractor produces %s v%d (%d features, hash %s)",
		ErrSchema, b.Schema.Name, b.Schema.Version, b.Schema.Len(), want, s.Name, s.Version, s.Len(), got)
}

// Save writes b to path atomically: into a temporary file in the same
// directory, fsync'd, then renamed (or, without overwrite, hard-linked) into
// place, so a reader sees either the old file or the whole new one. Without
// overwrite an existing path is refused with an error wrapping fs.ErrExist.
// b is validated first, as Load would; on success b.Hash() is the saved
// payload's hash. No temporary file is left behind on error. An existing
// path that is not a regular file (a device, a FIFO, a directory) is
// refused: renaming over it would replace it.
func Save(path string, b *Bundle, overwrite bool) error {
	if err := b.validate(false); err != nil {
		return fmt.Errorf("save model %q: %w", path, err)
	}
	payload, err := b.encode()
	if err != nil {
		return fmt.Errorf("save model %q: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		// A rename would replace the node itself: as root, /dev/null.
		return fmt.Errorf("save model %q: not a regular file", path)
	}
	if !overwrite {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("save model %q: %w (pass overwrite to replace it)", path, fs.ErrExist)
		}
	}
	sum := sha256.Sum256(payload)
	hdr := header(len(payload), sum)

	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("save model %q: %w", path, err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(hdr[:]); err != nil {
		return fmt.Errorf("save model %q: %w", path, err)
	}
	if _, err := tmp.Write(payload); err != nil {
		return fmt.Errorf("save model %q: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("save model %q: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("save model %q: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save model %q: %w", path, err)
	}
	if overwrite {
		err = os.Rename(tmpName, path)
	} else {
		// Link fails if path appeared since the check above: no race
		// replaces a file the caller did not ask to replace.
		err = os.Link(tmpName, path)
		if errors.Is(err, fs.ErrExist) {
			err = fmt.Errorf("%w (pass overwrite to replace it)", fs.ErrExist)
		} else if err != nil {
			// Filesystems without hard links: fall back to rename.
			err = os.Rename(tmpName, path)
		}
		os.Remove(tmpName)
	}
	if err != nil {
		return fmt.Errorf("save model %q: %w", path, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename durable; best effort
		d.Close()
	}
	b.hash = hex.EncodeToString(sum[:])
	return nil
}

func header(n int, sum [32]byte) [HeaderLen]byte {
	var h [HeaderLen]byte
	copy(h[:8], Magic)
	binary.LittleEndian.PutUint16(h[8:], Version)
	binary.LittleEndian.PutUint16(h[10:], flagGzip)
	binary.LittleEndian.PutUint64(h[12:], uint64(n))
	copy(h[20:], sum[:])
	return h
}

// encode returns the payload: the gzip'd JSON of b with SchemaHash set.
// Gzip without name or time is deterministic for a given Go release.
func (b *Bundle) encode() ([]byte, error) {
	c := *b
	c.SchemaHash = b.Schema.Hash()
	js, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(js); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Load reads and verifies the bundle in path; see Read. Errors name the
// path and wrap one of the Err… sentinels (or the open error).
func Load(path string) (*Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load model %q: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("load model %q: %w: not a regular file", path, ErrNotModel)
	}
	b, err := read(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("load model %q: %w", path, err)
	}
	return b, nil
}

// Read reads and verifies one bundle from r, in this order, each failure a
// distinct error: magic (ErrNotModel), format version (ErrNewer), flags,
// payload length against MaxPayload (ErrTooLarge) before anything is
// allocated for it, the payload itself (ErrTruncated), its SHA-256
// (ErrChecksum), gzip with a decompressed-size bound (ErrTooLarge), strict
// JSON (unknown fields refused), then the contents (ErrCorrupt): schema
// hash recomputed, scaler and models validated, dimensions consistent,
// thresholds finite and positive. Read does not read past the payload.
func Read(r io.Reader) (*Bundle, error) { return read(r, -1) }

// read reads a bundle from r; size is r's total length, or -1 if unknown.
func read(r io.Reader, size int64) (*Bundle, error) {
	var h [HeaderLen]byte
	n, err := io.ReadFull(r, h[:])
	if n < len(Magic) || string(h[:len(Magic)]) != Magic {
		if err != nil && n < len(Magic) && n > 0 && string(h[:n]) == Magic[:n] {
			return nil, fmt.Errorf("%w: %d bytes, shorter than the magic", ErrTruncated, n)
		}
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, err
		}
		return nil, fmt.Errorf("%w (no %q magic)", ErrNotModel, Magic)
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: %d-byte header, want %d", ErrTruncated, n, HeaderLen)
		}
		return nil, err
	}
	if v := binary.LittleEndian.Uint16(h[8:]); v > Version {
		return nil, fmt.Errorf("%w: written by a newer vigil (format v%d), this build reads ≤ v%d", ErrNewer, v, Version)
	} else if v == 0 {
		return nil, fmt.Errorf("%w: format version 0", ErrCorrupt)
	}
	flags := binary.LittleEndian.Uint16(h[10:])
	if flags&^knownFlag != 0 || flags&flagGzip == 0 {
		return nil, fmt.Errorf("%w: unknown flags %#04x", ErrCorrupt, flags)
	}
	plen := binary.LittleEndian.Uint64(h[12:])
	if plen > MaxPayload {
		return nil, fmt.Errorf("%w: payload of %d bytes, at most %d", ErrTooLarge, plen, MaxPayload)
	}
	var payload []byte
	if size >= 0 {
		rest := size - HeaderLen
		if int64(plen) > rest {
			return nil, fmt.Errorf("%w: header says %d payload bytes, file has %d", ErrTruncated, plen, rest)
		}
		if int64(plen) < rest {
			return nil, fmt.Errorf("%w: %d bytes after the payload", ErrCorrupt, rest-int64(plen))
		}
		payload = make([]byte, plen) // ≤ the file's size
		if _, err := io.ReadFull(r, payload); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("%w: payload shorter than %d bytes", ErrTruncated, plen)
			}
			return nil, err
		}
	} else {
		// Unknown size: let the buffer grow with the bytes that arrive
		// rather than trusting the header.
		var buf bytes.Buffer
		m, err := io.Copy(&buf, io.LimitReader(r, int64(plen)))
		if err != nil {
			return nil, err
		}
		if m < int64(plen) {
			return nil, fmt.Errorf("%w: payload has %d of %d bytes", ErrTruncated, m, plen)
		}
		payload = buf.Bytes()
	}
	sum := sha256.Sum256(payload)
	if !bytes.Equal(sum[:], h[20:52]) {
		return nil, fmt.Errorf("%w: payload hashes to %x, header says %x", ErrChecksum, sum[:], h[20:52])
	}
	b, err := decode(payload)
	if err != nil {
		return nil, err
	}
	b.hash = hex.EncodeToString(sum[:])
	return b, nil
}

func decode(payload []byte) (*Bundle, error) {
	zr, err := gzip.NewReader(bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("%w: gzip: %v", ErrCorrupt, err)
	}
	limit := int64(4<<20) + 64*int64(len(payload))
	if limit > MaxDecompressed {
		limit = MaxDecompressed
	}
	var js bytes.Buffer
	if _, err := io.Copy(&js, io.LimitReader(zr, limit+1)); err != nil {
		return nil, fmt.Errorf("%w: gzip: %v", ErrCorrupt, err)
	}
	if int64(js.Len()) > limit {
		return nil, fmt.Errorf("%w: payload expands beyond %d bytes (%d compressed)", ErrTooLarge, limit, len(payload))
	}
	dec := json.NewDecoder(&js)
	dec.DisallowUnknownFields()
	b := new(Bundle)
	if err := dec.Decode(b); err != nil {
		return nil, fmt.Errorf("%w: json: %v", ErrCorrupt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: json: data after the bundle", ErrCorrupt)
	}
	if err := b.validate(true); err != nil {
		return nil, err
	}
	return b, nil
}

// validate checks what Load promises: a bundle that passes scores any
// vector of the schema's length to finite numbers without panicking.
// checkHash compares the stored SchemaHash with the recomputed one.
func (b *Bundle) validate(checkHash bool) (err error) {
	defer func() {
		if err != nil && !errors.Is(err, ErrCorrupt) {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
	}()
	d := b.Schema.Len()
	if d == 0 || d > MaxFeatures {
		return fmt.Errorf("schema has %d features, want 1..%d", d, MaxFeatures)
	}
	seen := make(map[string]bool, d)
	for i, f := range b.Schema.Features {
		if f.Name == "" || seen[f.Name] {
			return fmt.Errorf("schema feature %d: empty or duplicate name %q", i, f.Name)
		}
		seen[f.Name] = true
	}
	if checkHash {
		if h := b.Schema.Hash(); h != b.SchemaHash {
			return fmt.Errorf("schema hash %s recorded, %s recomputed", b.SchemaHash, h)
		}
	}
	if b.Scaler == nil {
		return errors.New("no scaler")
	}
	if err := b.Scaler.Validate(); err != nil {
		return err
	}
	if b.Scaler.Dim() != d {
		return fmt.Errorf("scaler has %d features, schema %d", b.Scaler.Dim(), d)
	}
	if b.Forest == nil && b.KMeans == nil {
		return errors.New("no model")
	}
	th := func(name string, present bool, v float64) error {
		if !present {
			if v != 0 {
				return fmt.Errorf("threshold %s = %g for an absent model", name, v)
			}
			return nil
		}
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("threshold %s = %g, want finite and > 0", name, v)
		}
		return nil
	}
	if b.Forest != nil {
		if err := b.Forest.Validate(); err != nil {
			return err
		}
		if b.Forest.Dim() != d {
			return fmt.Errorf("isolation forest has %d features, schema %d", b.Forest.Dim(), d)
		}
	}
	if b.KMeans != nil {
		if err := b.KMeans.Validate(); err != nil {
			return err
		}
		if b.KMeans.Dim() != d {
			return fmt.Errorf("k-means has %d features, schema %d", b.KMeans.Dim(), d)
		}
	}
	if err := th("iforest", b.Forest != nil, b.Thresholds.IForest); err != nil {
		return err
	}
	if err := th("kmeans", b.KMeans != nil, b.Thresholds.KMeans); err != nil {
		return err
	}
	if err := th("ensemble", true, b.Thresholds.Ensemble); err != nil {
		return err
	}
	if !(b.TargetFPR > 0 && b.TargetFPR < 1) {
		return fmt.Errorf("target_fpr = %g, want in (0, 1)", b.TargetFPR)
	}
	return nil
}
