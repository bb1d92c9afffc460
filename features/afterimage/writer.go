package afterimage

import (
	"bufio"
	"fmt"
	"io"

	"github.com/vigil-nids/vigil/features"
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
	b := features.AppendUnixNano(c.buf[:0], id.Timestamp)
	b = append(b, ',')
	b = features.AppendTuple(b, id.Src, id.SrcPort, id.Dst, id.DstPort, id.Proto)
	for _, x := range v {
		b = append(b, ',')
		b = features.AppendFloat(b, x)
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
