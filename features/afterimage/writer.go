package afterimage

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
)

// IdentityColumns are the columns written before the features of every
// packet row: ts is Unix seconds with 9 decimals (the exact capture
// nanosecond), proto the IP protocol number, ports 0 unless TCP or UDP.
var IdentityColumns = []string{"ts", "src", "sport", "dst", "dport", "proto"}

// CSVWriter writes packet rows as CSV with a header row of IdentityColumns
// and the Schema's names. Floats are formatted in the shortest form that
// reads back exactly.
type CSVWriter struct {
	w      *bufio.Writer
	buf    []byte
	header bool
	err    error
}

// NewCSVWriter returns a CSVWriter writing to w.
func NewCSVWriter(w io.Writer) *CSVWriter {
	return &CSVWriter{w: bufio.NewWriterSize(w, 1<<16)}
}

func (c *CSVWriter) writeHeader() {
	if c.header {
		return
	}
	c.header = true
	b := c.buf[:0]
	for i, col := range IdentityColumns {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, col...)
	}
	for _, f := range Schema().Features {
		b = append(b, ',')
		b = append(b, f.Name...)
	}
	b = append(b, '\n')
	c.buf = b
	_, c.err = c.w.Write(b)
}

// Write writes one row; it retains neither argument.
func (c *CSVWriter) Write(id PacketID, v []float64) error {
	c.writeHeader()
	if c.err != nil {
		return c.err
	}
	if len(v) != NumFeatures {
		return fmt.Errorf("afterimage: vector has %d features, want %d", len(v), NumFeatures)
	}
	b := appendUnixNano(c.buf[:0], id.Timestamp)
	b = append(b, ',')
	b = id.Src.AppendTo(b)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(id.SrcPort), 10)
	b = append(b, ',')
	b = id.Dst.AppendTo(b)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(id.DstPort), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(id.Proto), 10)
	for _, x := range v {
		b = append(b, ',')
		if x == math.Trunc(x) && math.Abs(x) < 1e15 && (x != 0 || !math.Signbit(x)) {
			b = strconv.AppendInt(b, int64(x), 10)
		} else {
			b = strconv.AppendFloat(b, x, 'g', -1, 64)
		}
	}
	b = append(b, '\n')
	c.buf = b
	_, c.err = c.w.Write(b)
	return c.err
}

// Close writes the header if no row was written and flushes.
func (c *CSVWriter) Close() error {
	c.writeHeader()
	if c.err != nil {
		return c.err
	}
	return c.w.Flush()
}

// appendUnixNano appends ns as Unix seconds with 9 decimals.
func appendUnixNano(b []byte, ns int64) []byte {
	if ns < 0 {
		b = append(b, '-')
		if ns == math.MinInt64 {
			return append(b, "9223372036.854775808"...)
		}
		ns = -ns
	}
	b = strconv.AppendInt(b, ns/1e9, 10)
	frac := ns % 1e9
	b = append(b, '.')
	start := len(b)
	b = strconv.AppendInt(b, frac+1e9, 10) // 1 then 9 digits
	copy(b[start:], b[start+1:])
	return b[:len(b)-1]
}
