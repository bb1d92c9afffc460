package features

// Record is one flow as the Extractor emits it.
//
// Record and its Vector are owned by the Extractor and valid only during
// the callback that receives them; copy what you keep.
type Record struct {
	FlowID
	CommunityID string // Community ID v1 ("1:base64"), computed only when the Extractor is asked to

	FwdPackets, BwdPackets uint64
	FwdBytes, BwdBytes     uint64 // IP-layer bytes (wire bytes for non-IP)

	// Final is false for an interim snapshot of a flow still active
	// (Config.SnapshotInterval); the same flow is emitted again later.
	Final bool
	// Reason says why a final record was emitted.
	Reason EndReason
	// Seq numbers the records of one flow key: it grows when a long flow is
	// split by the active timeout.
	Seq uint32

	// Vector holds the features in Schema order.
	Vector []float64

	// Related lists the earlier connections (TCP or UDP) from the same
	// initiator to the same destination, port and protocol in the beacon
	// window (10 minutes) when their start times are clockwork
	// (beacon_iat_cv_less_clockwork carries regularity evidence): the beacon this record
	// continues. Each has its connection's Start and Sport, End 0, and the
	// rest of this record's FlowID. Empty otherwise.
	Related []FlowID

	// JA4 is the JA4 fingerprint of the flow's TLS ClientHello (see
	// JA4String), all zero when the flow had none that was whole in one
	// packet. Not a model feature: alerts carry it.
	JA4 [JA4Len]byte

	// User is the first user name the flow logged in with, when
	// Config.Usernames is set (nil otherwise, and when none was seen). It
	// points into the Extractor's state: copy it to keep it.
	User []byte
}

// JA4String returns r.JA4 as a string, or "" when there is none.
func (r *Record) JA4String() string {
	if r.JA4[0] == 0 {
		return ""
	}
	return string(r.JA4[:])
}

// EndReason says why a flow record was emitted.
type EndReason uint8

const (
	EndNone    EndReason = iota // interim snapshot
	EndIdle                     // idle timeout
	EndActive                   // active timeout: the flow continues as a new record
	EndFIN                      // TCP FIN from both sides (after the grace period)
	EndRST                      // TCP RST
	EndEvicted                  // table full: the oldest idle flow was expired early
	EndFlush                    // end of input
)

var endReasonNames = [...]string{"active-snapshot", "idle", "active-timeout", "fin", "rst", "evicted", "end-of-input"}

func (r EndReason) String() string {
	if int(r) < len(endReasonNames) {
		return endReasonNames[r]
	}
	return "unknown"
}
