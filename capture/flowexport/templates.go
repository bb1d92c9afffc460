package flowexport

import (
	"errors"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
)

// templateStore is one exporter's templates, implementing goflow2's
// netflow.NetFlowTemplateSystem so its decoder reads and writes them. Keys
// carry version, domain and template ID; the exporter is the store itself.
// It is bounded (max entries) and forgets templates older than ttl of
// datagram time (now is set by the Collector before each datagram).
type templateStore struct {
	entries map[uint64]templateEntry
	max     int
	ttl     int64
	now     int64
	// refused is the drop reason of the last template refused in the
	// current datagram, so the Collector counts it under that reason.
	refused string
}

type templateEntry struct {
	t     interface{}
	added int64
}

var (
	errTemplateLimit = errors.New("template limit reached")
	errBadTemplate   = errors.New("template describes records of no bytes")
)

func newTemplateStore(max int, ttl time.Duration) *templateStore {
	return &templateStore{entries: make(map[uint64]templateEntry), max: max, ttl: int64(ttl)}
}

func tkey(version uint16, domain uint32, id uint16) uint64 {
	return uint64(version)<<48 | uint64(domain)<<16 | uint64(id)
}

// recordSize is the least number of bytes a data record of these fields
// takes: fixed lengths, and one length byte per variable-length field.
func recordSize(fields ...[]netflow.Field) int {
	n := 0
	for _, fs := range fields {
		for _, f := range fs {
			if f.Length == 0xffff {
				n++
			} else {
				n += int(f.Length)
			}
		}
	}
	return n
}

// AddTemplate stores a template. A template whose records take no bytes
// is refused: goflow2's data-set loop would never advance over it. An
// IPFIX template withdrawal (no fields) removes the template.
func (s *templateStore) AddTemplate(version uint16, domain uint32, id uint16, t interface{}) error {
	size := 0
	switch t := t.(type) {
	case netflow.TemplateRecord:
		if len(t.Fields) == 0 && version == 10 {
			delete(s.entries, tkey(version, domain, id))
			return nil
		}
		size = recordSize(t.Fields)
	case netflow.NFv9OptionsTemplateRecord:
		size = recordSize(t.Scopes, t.Options)
	case netflow.IPFIXOptionsTemplateRecord:
		size = recordSize(t.Scopes, t.Options)
	}
	if size == 0 {
		s.refused = DropBadTemplate
		return errBadTemplate
	}
	k := tkey(version, domain, id)
	if _, ok := s.entries[k]; !ok && len(s.entries) >= s.max {
		s.expire()
		if len(s.entries) >= s.max {
			s.refused = DropTemplateLimit
			return errTemplateLimit
		}
	}
	s.entries[k] = templateEntry{t: t, added: s.now}
	return nil
}

// expire removes templates not refreshed within ttl.
func (s *templateStore) expire() {
	for k, e := range s.entries {
		if s.now-e.added > s.ttl {
			delete(s.entries, k)
		}
	}
}

func (s *templateStore) GetTemplate(version uint16, domain uint32, id uint16) (interface{}, error) {
	k := tkey(version, domain, id)
	e, ok := s.entries[k]
	if !ok {
		return nil, netflow.ErrorTemplateNotFound
	}
	if s.now-e.added > s.ttl {
		delete(s.entries, k)
		return nil, netflow.ErrorTemplateNotFound
	}
	return e.t, nil
}

func (s *templateStore) RemoveTemplate(version uint16, domain uint32, id uint16) (interface{}, error) {
	k := tkey(version, domain, id)
	e, ok := s.entries[k]
	if !ok {
		return nil, netflow.ErrorTemplateNotFound
	}
	delete(s.entries, k)
	return e.t, nil
}

func (s *templateStore) GetTemplates() netflow.FlowBaseTemplateSet {
	out := make(netflow.FlowBaseTemplateSet, len(s.entries))
	for k, e := range s.entries {
		out[k] = e.t
	}
	return out
}
