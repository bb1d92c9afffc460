package datasets

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vigil-nids/vigil/features"
)

// Limits that keep a hostile or mistaken table from making a huge schema.
const (
	maxColumns    = 1024    // columns in a table
	maxCategories = 4096    // distinct values of one categorical column
	maxLabels     = 4096    // distinct labels interned by one reader
	maxNameLen    = 256     // bytes of a column name or category value
	maxWidth      = 1 << 16 // features of one encoded row
)

// OtherCategory is the category value whose one-hot column receives every
// value not seen when the Encoder was fitted. A literal value "other" in
// the data (NSL-KDD's service has one) is encoded into the same column.
const OtherCategory = "other"

// role of a column in a table.
type role uint8

const (
	roleNumeric role = iota
	roleCategorical
	roleDrop  // read and ignored (an identifier, NSL-KDD's difficulty)
	roleLabel // consumed by the format's label function
)

// format describes one kind of labeled feature table.
type format struct {
	name string
	// columns, when set, are the fixed columns of a table without a header
	// row; minFields is the fewest fields a row may have (trailing optional
	// columns). With no columns the first row is the header.
	columns   []string
	minFields int

	categorical []string // categorical columns by name
	drop        []string // columns read and ignored
	labels      []string // label columns; all must be present
	count       func(col string) bool
	// label derives the normalised label from the label columns' values,
	// given in the order of labels.
	label func(v []string) (string, error)
}

var formats = map[string]*format{}

func register(f *format) { formats[f.name] = f }

// Formats returns the names of the table formats, sorted.
func Formats() []string {
	n := make([]string, 0, len(formats))
	for k := range formats {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}

func lookupFormat(name string) (*format, error) {
	f, ok := formats[name]
	if !ok {
		return nil, fmt.Errorf("unknown dataset format %q (want one of %s)", name, strings.Join(Formats(), ", "))
	}
	return f, nil
}

// ParseDatasetArg splits a --dataset argument FORMAT:PATH at its first
// colon and checks that FORMAT is known.
func ParseDatasetArg(s string) (format, path string, err error) {
	format, path, ok := strings.Cut(s, ":")
	if !ok || path == "" {
		return "", "", fmt.Errorf("dataset %q: want FORMAT:PATH with FORMAT one of %s", s, strings.Join(Formats(), ", "))
	}
	if _, err := lookupFormat(format); err != nil {
		return "", "", fmt.Errorf("dataset %q: %w", s, err)
	}
	return format, path, nil
}

// Category is the value set of one categorical column.
type Category struct {
	Column string   `json:"column"`
	Values []string `json:"values"` // sorted, unique, never "other"
}

// Encoder turns rows of one table format into feature vectors. It is
// fitted once on a training table (FitEncoder), stored with the model
// (encoding/json round-trips it through its exported fields) and used to
// read every later table, which must have the same columns.
type Encoder struct {
	Format string `json:"format"`
	// Columns are the table's columns in file order: header names with
	// surrounding spaces removed and repeated names suffixed ".1", ".2", …
	// (as pandas does), or the fixed names of a format without a header.
	Columns []string `json:"columns"`
	// Categories holds one entry per categorical column, in column order.
	Categories []Category `json:"categories"`
}

// FitEncoderFile opens path and calls FitEncoder, naming errors after the
// file.
func FitEncoderFile(format, path string) (*Encoder, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("fit %s encoder: %w", format, err)
	}
	defer f.Close()
	return fitEncoder(format, f, filepath.Base(path))
}

// FitEncoder reads a whole training table of the given format from r,
// streaming, and returns an Encoder whose category sets are the values
// seen in every row (normal and attack alike). Every row is validated as
// Next would.
func FitEncoder(format string, r io.Reader) (*Encoder, error) {
	return fitEncoder(format, r, format+" table")
}

func fitEncoder(format string, r io.Reader, name string) (*Encoder, error) {
	f, err := lookupFormat(format)
	if err != nil {
		return nil, err
	}
	e := &Encoder{Format: f.name}
	t := &TableReader{enc: e, f: f, name: name, fitting: true}
	if err := t.start(r); err != nil {
		return nil, err
	}
	sets := make([]map[string]struct{}, len(t.cats))
	for i := range sets {
		sets[i] = map[string]struct{}{}
	}
	t.fitSets = sets
	for {
		if _, _, err := t.Next(nil); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
	}
	for i, ci := range t.catCols {
		vals := make([]string, 0, len(sets[i]))
		for v := range sets[i] {
			vals = append(vals, v)
		}
		slices.Sort(vals)
		e.Categories = append(e.Categories, Category{Column: e.Columns[ci], Values: vals})
	}
	if _, _, _, err := e.roles(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return e, nil
}

// roleOf returns the role the format gives column c.
func (f *format) roleOf(c string) role {
	switch {
	case slices.Contains(f.labels, c):
		return roleLabel
	case slices.Contains(f.drop, c):
		return roleDrop
	case slices.Contains(f.categorical, c):
		return roleCategorical
	}
	return roleNumeric
}

// roles returns the role of each of e.Columns, checking e against its
// format. For categorical columns, cat[i] is the index in e.Categories.
func (e *Encoder) roles() (f *format, roles []role, cat []int, err error) {
	f, err = lookupFormat(e.Format)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(e.Columns) == 0 || len(e.Columns) > maxColumns {
		return nil, nil, nil, fmt.Errorf("encoder: %d columns (want 1-%d)", len(e.Columns), maxColumns)
	}
	roles = make([]role, len(e.Columns))
	cat = make([]int, len(e.Columns))
	seen := map[string]bool{}
	nCat := 0
	for i, c := range e.Columns {
		if seen[c] {
			return nil, nil, nil, fmt.Errorf("encoder: column %q twice", c)
		}
		seen[c] = true
		cat[i] = -1
		if roles[i] = f.roleOf(c); roles[i] == roleCategorical {
			nCat++
		}
	}
	for _, l := range f.labels {
		if !seen[l] {
			return nil, nil, nil, fmt.Errorf("%s table has no %q column", f.name, l)
		}
	}
	if e.Categories != nil || nCat > 0 {
		if len(e.Categories) != nCat {
			return nil, nil, nil, fmt.Errorf("encoder: %d category sets for %d categorical columns", len(e.Categories), nCat)
		}
		j := 0
		for i := range e.Columns {
			if roles[i] != roleCategorical {
				continue
			}
			c := &e.Categories[j]
			if c.Column != e.Columns[i] {
				return nil, nil, nil, fmt.Errorf("encoder: category set %d is for %q, want %q", j, c.Column, e.Columns[i])
			}
			if len(c.Values) > maxCategories {
				return nil, nil, nil, fmt.Errorf("encoder: column %q has %d categories (max %d)", c.Column, len(c.Values), maxCategories)
			}
			for k, v := range c.Values {
				if v == OtherCategory || (k > 0 && v <= c.Values[k-1]) {
					return nil, nil, nil, fmt.Errorf("encoder: category values of %q not sorted, unique and free of %q", c.Column, OtherCategory)
				}
			}
			cat[i] = j
			j++
		}
	}
	width := 0
	for i := range roles {
		switch roles[i] {
		case roleNumeric:
			width++
		case roleCategorical:
			width += len(e.Categories[cat[i]].Values) + 1
		}
	}
	if width > maxWidth {
		return nil, nil, nil, fmt.Errorf("encoder: %d features (max %d)", width, maxWidth)
	}
	return f, roles, cat, nil
}

// Schema returns the feature schema of the vectors the encoder produces:
// numeric columns keep their names; a categorical column c becomes one
// column "c=value" per fitted value, then "c=other". Name is the format,
// Version 1. It panics if the encoder is invalid (one that FitEncoder did
// not make and Open would reject).
func (e *Encoder) Schema() *features.Schema {
	f, roles, cat, err := e.roles()
	if err != nil {
		panic("datasets: Schema of an invalid encoder: " + err.Error())
	}
	s := &features.Schema{Name: f.name, Version: 1}
	for i, c := range e.Columns {
		switch roles[i] {
		case roleNumeric:
			s.Features = append(s.Features, features.Feature{Name: c, Count: f.count != nil && f.count(c),
				Description: f.name + " column " + c})
		case roleCategorical:
			for _, v := range e.Categories[cat[i]].Values {
				s.Features = append(s.Features, features.Feature{Name: c + "=" + v, Unit: "bool",
					Description: "1 when " + c + " is " + strconv.Quote(v)})
			}
			s.Features = append(s.Features, features.Feature{Name: c + "=" + OtherCategory, Unit: "bool",
				Description: "1 when " + c + " is a value not seen in training (or \"other\")"})
		}
	}
	return s
}

// TableStats counts what a TableReader has read.
type TableStats struct {
	Rows     int // rows returned by Next
	Replaced int // numeric fields that were empty, NaN or ±Inf and became 0
	Unknown  int // categorical values encoded as "other" because unseen in training
}

// TableReader streams the rows of a labeled feature table.
type TableReader struct {
	enc  *Encoder
	f    *format
	name string
	cr   *csv.Reader

	roles   []role
	catOff  []int // output offset of each column (numeric) or its first one-hot column
	cats    []map[string]int
	catCols []int // column index of each categorical column
	labIdx  []int // column index of each of f.labels
	labVals []string
	width   int
	line    int
	stats   TableStats
	labels  map[string]string

	fitting bool
	fitSets []map[string]struct{}
}

// Open returns a reader of the table in r, which must have the columns the
// encoder was fitted on; name is used in errors ("name:LINE: …").
func (e *Encoder) Open(r io.Reader, name string) (*TableReader, error) {
	f, err := lookupFormat(e.Format)
	if err != nil {
		return nil, err
	}
	t := &TableReader{enc: e, f: f, name: name}
	if err := t.start(r); err != nil {
		return nil, err
	}
	return t, nil
}

// Width returns the length of the rows Next returns.
func (t *TableReader) Width() int { return t.width }

// Line returns the line number of the last row read.
func (t *TableReader) Line() int { return t.line }

// Stats returns counts of what has been read so far.
func (t *TableReader) Stats() TableStats { return t.stats }

func (t *TableReader) errorf(format string, a ...any) error {
	return fmt.Errorf("%s:%d: %s", t.name, t.line, fmt.Sprintf(format, a...))
}

// start reads the header (if any), checks or sets the encoder's columns and
// sets up the column roles.
func (t *TableReader) start(r io.Reader) error {
	t.cr = csv.NewReader(r)
	t.cr.ReuseRecord = true
	t.cr.TrimLeadingSpace = true
	t.cr.FieldsPerRecord = -1
	e, f := t.enc, t.f
	var roles []role
	var cat []int
	if !t.fitting {
		var err error
		if _, roles, cat, err = e.roles(); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	var cols []string
	if f.columns != nil {
		cols = f.columns
	} else {
		hdr, err := t.cr.Read()
		t.line = 1
		if err == io.EOF {
			return t.errorf("empty file: no header row")
		}
		if err != nil {
			return t.csvErr(err)
		}
		if len(hdr) > maxColumns {
			return t.errorf("%d columns (max %d)", len(hdr), maxColumns)
		}
		cols = normHeader(hdr)
	}
	if t.fitting {
		e.Columns = slices.Clone(cols)
	} else if err := t.checkColumns(cols); err != nil {
		return err
	}
	if t.fitting {
		roles, cat = t.fitRoles()
		for _, l := range f.labels {
			if !slices.Contains(cols, l) {
				return fmt.Errorf("%s: %s table has no %q column", t.name, f.name, l)
			}
		}
	}
	t.roles = roles
	t.catOff = make([]int, len(cols))
	for i := range cols {
		t.catOff[i] = t.width
		switch roles[i] {
		case roleNumeric:
			t.width++
		case roleCategorical:
			t.catCols = append(t.catCols, i)
			if t.fitting {
				t.cats = append(t.cats, nil)
				continue
			}
			vals := e.Categories[cat[i]].Values
			m := make(map[string]int, len(vals))
			for k, v := range vals {
				m[v] = k
			}
			t.cats = append(t.cats, m)
			t.width += len(vals) + 1
		}
	}
	for _, l := range f.labels {
		t.labIdx = append(t.labIdx, slices.Index(cols, l))
	}
	t.labVals = make([]string, len(f.labels))
	t.labels = map[string]string{}
	return nil
}

// fitRoles is roles for an encoder without category sets yet.
func (t *TableReader) fitRoles() ([]role, []int) {
	e, f := t.enc, t.f
	roles := make([]role, len(e.Columns))
	cat := make([]int, len(e.Columns))
	for i, c := range e.Columns {
		cat[i] = -1
		roles[i] = f.roleOf(c)
	}
	return roles, cat
}

func normHeader(hdr []string) []string {
	cols := make([]string, len(hdr))
	seen := map[string]bool{}
	for i, h := range hdr {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		h = strings.ToValidUTF8(h, "\uFFFD")
		if len(h) > maxNameLen {
			h = h[:maxNameLen]
		}
		name := h
		for n := 1; seen[name]; n++ {
			name = h + "." + strconv.Itoa(n)
		}
		seen[name] = true
		h = name
		cols[i] = h
	}
	return cols
}

func (t *TableReader) checkColumns(cols []string) error {
	want := t.enc.Columns
	for i := 0; i < len(cols) && i < len(want); i++ {
		if cols[i] != want[i] {
			return t.errorf("column %d is %q; the encoder (fitted on the training table) expects %q: this table does not match the model", i+1, cols[i], want[i])
		}
	}
	switch {
	case len(cols) < len(want):
		return t.errorf("%d columns, the encoder expects %d: first missing column %q", len(cols), len(want), want[len(cols)])
	case len(cols) > len(want):
		return t.errorf("%d columns, the encoder expects %d: first extra column %q", len(cols), len(want), cols[len(want)])
	}
	return nil
}

func (t *TableReader) csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: %w", t.name, pe.Line, pe.Err)
	}
	return fmt.Errorf("%s: %w", t.name, err)
}

// Next reads the next row and returns it appended to dst[:0] (Width()
// values: numeric columns as float64, categorical ones one-hot) with its
// normalised label: Benign for a normal row, the dataset's attack name
// otherwise. At the end of the table it returns io.EOF. Empty, NaN and ±Inf
// numeric fields become 0 and are counted in Stats().Replaced.
//
// Reusing dst across calls avoids an allocation per row; encoding/csv still
// allocates about one string per line.
func (t *TableReader) Next(dst []float64) (row []float64, label string, err error) {
	for {
		rec, err := t.cr.Read()
		if err == io.EOF {
			return dst[:0], "", io.EOF
		}
		if err != nil {
			return dst[:0], "", t.csvErr(err)
		}
		t.line, _ = t.cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line with spaces
		}
		return t.row(dst[:0], rec)
	}
}

func (t *TableReader) row(dst []float64, rec []string) ([]float64, string, error) {
	cols := t.enc.Columns
	if n := len(rec); n != len(cols) && (t.f.minFields == 0 || n < t.f.minFields || n > len(cols)) {
		if t.f.minFields > 0 {
			return dst, "", t.errorf("%d fields, want %d or %d (a %s row)", n, t.f.minFields, len(cols), t.f.name)
		}
		return dst, "", t.errorf("%d fields, the header has %d", n, len(cols))
	}
	if !t.fitting {
		dst = slices.Grow(dst, t.width)[:t.width]
		clear(dst)
	}
	cat := 0
	for i, v := range rec {
		switch t.roles[i] {
		case roleNumeric:
			s := strings.TrimSpace(v)
			x, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				if err != nil && s != "" && !isInfNaN(s) {
					return dst, "", t.errorf("column %q: bad number %q", cols[i], clip(s))
				}
				x = 0
				t.stats.Replaced++
			}
			if !t.fitting {
				dst[t.catOff[i]] = x
			}
		case roleCategorical:
			s := strings.TrimSpace(v)
			if t.fitting {
				if s != OtherCategory && s != "" {
					set := t.fitSets[cat]
					if _, ok := set[s]; !ok {
						if len(set) >= maxCategories {
							return dst, "", t.errorf("column %q has more than %d distinct values", cols[i], maxCategories)
						}
						if len(s) > maxNameLen || !utf8.ValidString(s) {
							return dst, "", t.errorf("column %q: bad category value %q", cols[i], clip(s))
						}
						set[strings.Clone(s)] = struct{}{}
					}
				}
			} else {
				k, ok := t.cats[cat][s]
				if !ok {
					k = len(t.cats[cat])
					if s != OtherCategory && s != "" {
						t.stats.Unknown++
					}
				}
				dst[t.catOff[i]+k] = 1
			}
			cat++
		}
	}
	for j, ci := range t.labIdx {
		t.labVals[j] = ""
		if ci < len(rec) {
			t.labVals[j] = strings.TrimSpace(rec[ci])
		}
	}
	lab, err := t.f.label(t.labVals)
	if err != nil {
		return dst, "", t.errorf("%v", err)
	}
	t.stats.Rows++
	return dst, t.intern(lab), nil
}

func isInfNaN(s string) bool {
	s = strings.TrimLeft(strings.ToLower(s), "+-")
	return s == "nan" || s == "inf" || s == "infinity"
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// intern returns a copy of lab shared by every row with the same label, so
// rows do not keep their whole line alive.
func (t *TableReader) intern(lab string) string {
	if s, ok := t.labels[lab]; ok {
		return s
	}
	s := strings.ToValidUTF8(strings.Clone(lab), "\uFFFD")
	if len(t.labels) < maxLabels {
		t.labels[s] = s
	}
	return s
}
