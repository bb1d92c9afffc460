package datasets

import (
	"errors"
	"strings"
)

// nslKDDColumns are the 43 columns of NSL-KDD's KDDTrain+/KDDTest+ text
// files (no header row): 41 features, the label (an attack name or
// "normal") and the difficulty level (0-21; read and ignored, and optional:
// rows of 42 fields are accepted).
var nslKDDColumns = []string{
	"duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes",
	"land", "wrong_fragment", "urgent", "hot", "num_failed_logins", "logged_in",
	"num_compromised", "root_shell", "su_attempted", "num_root",
	"num_file_creations", "num_shells", "num_access_files", "num_outbound_cmds",
	"is_host_login", "is_guest_login", "count", "srv_count", "serror_rate",
	"srv_serror_rate", "rerror_rate", "srv_rerror_rate", "same_srv_rate",
	"diff_srv_rate", "srv_diff_host_rate", "dst_host_count", "dst_host_srv_count",
	"dst_host_same_srv_rate", "dst_host_diff_srv_rate",
	"dst_host_same_src_port_rate", "dst_host_srv_diff_host_rate",
	"dst_host_serror_rate", "dst_host_srv_serror_rate", "dst_host_rerror_rate",
	"dst_host_srv_rerror_rate", "label", "difficulty",
}

var nslKDDCount = map[string]bool{
	"duration": true, "src_bytes": true, "dst_bytes": true, "wrong_fragment": true,
	"urgent": true, "hot": true, "num_failed_logins": true, "num_compromised": true,
	"num_root": true, "num_file_creations": true, "num_shells": true,
	"num_access_files": true, "num_outbound_cmds": true, "count": true,
	"srv_count": true, "dst_host_count": true, "dst_host_srv_count": true,
}

func init() {
	register(&format{
		name:        "nsl-kdd",
		columns:     nslKDDColumns,
		minFields:   len(nslKDDColumns) - 1,
		categorical: []string{"protocol_type", "service", "flag"},
		drop:        []string{"difficulty"},
		labels:      []string{"label"},
		count:       func(c string) bool { return nslKDDCount[c] },
		label:       nslKDDLabel,
	})
}

// nslKDDLabel maps "normal" to Benign and keeps attack names; a trailing
// "." (KDD Cup 99's "normal.") is dropped.
func nslKDDLabel(v []string) (string, error) {
	l := strings.TrimSuffix(v[0], ".")
	switch {
	case l == "":
		return "", errors.New("empty label")
	case strings.EqualFold(l, "normal"):
		return Benign, nil
	}
	return l, nil
}
