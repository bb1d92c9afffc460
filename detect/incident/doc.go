// Package incident groups flow alerts into incidents: one attack seen at
// the level of hosts and time instead of flow by flow.
//
// It owns the grouping key (a target host for many-to-one attacks such as
// floods, reflection and brute force; a source host for one-to-many ones
// such as scans; the pair for one-to-one ones such as beacons, tunnels and
// injection), the kind naming (Rules: a table read against the alert's
// top features and 5-tuple; anomaly when no rule's evidence holds), the
// incident life cycle on capture time (start at the first alert, update at
// most every Config.Update while it grows, end after Config.Idle without
// alerts, at Close, or when Config.MaxOpen is reached) and the EVE-style
// event it writes ("event_type": "incident").
//
// The engine is bounded: source, destination and port counts are
// cardinality sketches (exact up to 32 values, then a HyperLogLog of 1 KiB),
// the top lists are space-saving heavy-hitter summaries of 16 counters, so
// a flood of a million spoofed sources costs an incident the same memory
// as one of a thousand. Ids are derived from the key and the first alert's
// time, so a replay of the same alerts in the same order writes the same
// events.
//
// The engine is not safe for concurrent use: detect feeds it from its one
// alert goroutine, evaluate from the same place.
package incident
