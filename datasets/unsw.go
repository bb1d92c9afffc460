package datasets

import (
	"errors"
	"fmt"
	"strings"
)

// UNSW-NB15's training and testing set CSVs (UNSW_NB15_training-set.csv,
// UNSW_NB15_testing-set.csv) have a header row: id, 42 features, attack_cat
// and label (0 normal, 1 attack). id is dropped; proto, service and state
// are categorical. The four raw UNSW-NB15_1..4.csv files (no header,
// addresses and times) are not this format.

var unswCount = map[string]bool{
	"dur": true, "spkts": true, "dpkts": true, "sbytes": true, "dbytes": true,
	"rate": true, "sload": true, "dload": true, "sloss": true, "dloss": true,
	"sinpkt": true, "dinpkt": true, "sjit": true, "djit": true, "tcprtt": true,
	"synack": true, "ackdat": true, "smean": true, "dmean": true,
	"trans_depth": true, "response_body_len": true, "ct_srv_src": true,
	"ct_state_ttl": true, "ct_dst_ltm": true, "ct_src_dport_ltm": true,
	"ct_dst_sport_ltm": true, "ct_dst_src_ltm": true, "ct_ftp_cmd": true,
	"ct_flw_http_mthd": true, "ct_src_ltm": true, "ct_srv_dst": true,
}

func init() {
	register(&format{
		name:        "unsw-nb15",
		categorical: []string{"proto", "service", "state"},
		drop:        []string{"id"},
		labels:      []string{"label", "attack_cat"},
		count:       func(c string) bool { return unswCount[c] },
		label:       unswLabel,
	})
}

// unswLabel: label 0 is Benign; label 1 is the attack_cat (trimmed), or
// "attack" when attack_cat is empty or says Normal.
func unswLabel(v []string) (string, error) {
	cat := v[1]
	switch v[0] {
	case "0":
		return Benign, nil
	case "1":
		if cat == "" || strings.EqualFold(cat, "normal") {
			return "attack", nil
		}
		return cat, nil
	case "":
		return "", errors.New("empty label")
	}
	return "", fmt.Errorf("label %q is not 0 or 1", clip(v[0]))
}
