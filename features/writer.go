package features

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strconv"

	"github.com/parquet-go/parquet-go"
)

// IdentityColumns are the columns written before the features of every
// flow row. ts_start and ts_end are Unix seconds with 9 decimals (exact
// nanoseconds) in CSV and Unix-nanosecond timestamps in Parquet; proto is
// the IP protocol number; for ICMP sport is type<<8|code and dport the echo
// identifier (see FlowID).
var IdentityColumns = []string{"ts_start", "ts_end", "src", "sport", "dst", "dport", "proto", "community_id"}

// Columns returns the column names of a flow table with schema s: the
// identity columns, then the features in schema order.
func Columns(s *Schema) []string {
	return append(slices.Clone(IdentityColumns), s.Names()...)
}

// RecordWriter writes flow records as table rows.
type RecordWriter interface {
	// Write writes one row; it does not retain r.
	Write(r *Record) error
	// Close flushes buffered rows and the table's footer, if any. It does
	// not close the underlying io.Writer.
	Close() error
}

var (
	_ RecordWriter = (*CSVWriter)(nil)
	_ RecordWriter = (*ParquetWriter)(nil)
)

// CSVWriter writes records as CSV with a header row of Columns. Floats are
// formatted in the shortest form that reads back exactly.
type CSVWriter struct {
	w      *bufio.Writer
	n      int
	buf    []byte
	header bool
	err    error
	cols   []string
}

// NewCSVWriter returns a CSVWriter for records of schema s.
func NewCSVWriter(w io.Writer, s *Schema) *CSVWriter {
	return &CSVWriter{w: bufio.NewWriterSize(w, 1<<20), n: s.Len(), cols: Columns(s)}
}

func (c *CSVWriter) Write(r *Record) error {
	if c.err != nil {
		return c.err
	}
	b, err := c.appendRow(c.buf[:0], r, false)
	if err != nil {
		return err
	}
	c.buf = b
	return c.writeRows(b)
}

// appendRow appends r's row to b. With cid, an empty CommunityID is
// computed into the row. It uses no state of c that Write changes, so
// several goroutines may format rows at once (AsyncWriter does).
func (c *CSVWriter) appendRow(b []byte, r *Record, cid bool) ([]byte, error) {
	if len(r.Vector) != c.n {
		return b, fmt.Errorf("features: record has %d features, schema %d", len(r.Vector), c.n)
	}
	b = AppendUnixNano(b, r.Start)
	b = append(b, ',')
	b = AppendUnixNano(b, r.End)
	b = append(b, ',')
	b = AppendTuple(b, r.Src, r.Sport, r.Dst, r.Dport, r.Proto)
	b = append(b, ',')
	if cid && r.CommunityID == "" {
		b = AppendCommunityID(b, &r.FlowID)
	} else {
		b = append(b, r.CommunityID...) // base64 std: no comma or quote
	}
	for _, v := range r.Vector {
		b = append(b, ',')
		b = AppendFloat(b, v)
	}
	return append(b, '\n'), nil
}

// writeRows writes formatted rows, after the header row if it is not
// written yet.
func (c *CSVWriter) writeRows(rows []byte) error {
	if c.ensureHeader() != nil {
		return c.err
	}
	_, c.err = c.w.Write(rows)
	return c.err
}

// ensureHeader writes the header before the first row (or at Close) and
// returns the writer's sticky error.
func (c *CSVWriter) ensureHeader() error {
	if c.err == nil && !c.header {
		c.header = true
		c.err = c.writeHeader()
	}
	return c.err
}

func (c *CSVWriter) writeHeader() error {
	var b []byte
	for i, col := range c.cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, col...)
	}
	_, err := c.w.Write(append(b, '\n'))
	return err
}

// Close flushes the buffered rows. With no rows written, it writes the
// header alone.
func (c *CSVWriter) Close() error {
	if c.ensureHeader() != nil {
		return c.err
	}
	c.err = c.w.Flush()
	return c.err
}

// AppendUnixNano appends ns as Unix seconds with exactly 9 decimals, the
// timestamp format of vigil's CSV files.
func AppendUnixNano(b []byte, ns int64) []byte {
	if ns < 0 {
		b = append(b, '-')
		if ns == math.MinInt64 { // -ns would overflow
			return append(b, "9223372036.854775808"...)
		}
		ns = -ns
	}
	b = strconv.AppendInt(b, ns/1e9, 10)
	frac := ns % 1e9
	b = append(b, '.')
	var d [9]byte
	for i := 8; i >= 0; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	return append(b, d[:]...)
}

// ParquetWriter writes records as a Parquet file. Its columns are
// Columns(s) with types: ts_start, ts_end timestamp(ns); src, dst,
// community_id string; sport, dport, proto int32; features double.
// Parquet groups order their columns by name, so readers should find
// columns by name, not by position.
type ParquetWriter struct {
	w    *parquet.Writer
	n    int
	leaf []int // column position in Columns → leaf index
	row  parquet.Row
	rows []parquet.Row
}

// NewParquetWriter returns a ParquetWriter for records of schema s.
func NewParquetWriter(w io.Writer, s *Schema) *ParquetWriter {
	cols := Columns(s)
	g := parquet.Group{
		"ts_start":     parquet.Timestamp(parquet.Nanosecond),
		"ts_end":       parquet.Timestamp(parquet.Nanosecond),
		"src":          parquet.String(),
		"dst":          parquet.String(),
		"sport":        parquet.Int(32),
		"dport":        parquet.Int(32),
		"proto":        parquet.Int(32),
		"community_id": parquet.String(),
	}
	for _, f := range s.Features {
		g[f.Name] = parquet.Leaf(parquet.DoubleType)
	}
	sorted := slices.Clone(cols)
	slices.Sort(sorted)
	leaf := make([]int, len(cols))
	for i, c := range cols {
		leaf[i], _ = slices.BinarySearch(sorted, c)
	}
	schema := parquet.NewSchema("flow", g)
	return &ParquetWriter{
		w:    parquet.NewWriter(w, schema),
		n:    s.Len(),
		leaf: leaf,
		row:  make(parquet.Row, len(cols)),
		rows: make([]parquet.Row, 1),
	}
}

func (p *ParquetWriter) Write(r *Record) error {
	if len(r.Vector) != p.n {
		return fmt.Errorf("features: record has %d features, schema %d", len(r.Vector), p.n)
	}
	set := func(i int, v parquet.Value) {
		p.row[p.leaf[i]] = v.Level(0, 0, p.leaf[i])
	}
	set(0, parquet.Int64Value(r.Start))
	set(1, parquet.Int64Value(r.End))
	set(2, parquet.ByteArrayValue(r.Src.AppendTo(nil)))
	set(3, parquet.Int32Value(int32(r.Sport)))
	set(4, parquet.ByteArrayValue(r.Dst.AppendTo(nil)))
	set(5, parquet.Int32Value(int32(r.Dport)))
	set(6, parquet.Int32Value(int32(r.Proto)))
	set(7, parquet.ByteArrayValue([]byte(r.CommunityID)))
	for j, v := range r.Vector {
		set(len(IdentityColumns)+j, parquet.DoubleValue(v))
	}
	p.rows[0] = p.row
	_, err := p.w.WriteRows(p.rows)
	return err
}

// Close writes the Parquet footer.
func (p *ParquetWriter) Close() error { return p.w.Close() }

// AppendTuple appends the CSV columns src,sport,dst,dport,proto (addresses
// in netip's text form, numbers in decimal), as the flow and packet
// writers print them.
func AppendTuple(b []byte, src netip.Addr, sport uint16, dst netip.Addr, dport uint16, proto uint8) []byte {
	b = src.AppendTo(b)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(sport), 10)
	b = append(b, ',')
	b = dst.AppendTo(b)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(dport), 10)
	b = append(b, ',')
	return strconv.AppendUint(b, uint64(proto), 10)
}
