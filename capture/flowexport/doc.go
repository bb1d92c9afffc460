// Package flowexport turns exported flow records (NetFlow v5, NetFlow v9
// and IPFIX datagrams) into vigil's Record values. It owns everything a
// collector does between the UDP payload and a flow record: the per-exporter
// template store, template expiry, option templates that carry the sampling
// rate, sequence-gap counting, bounds on exporters and templates, and the
// drop counters per reason. Wire decoding is goflow2's
// (github.com/netsampler/goflow2/v2 decoders/netflowlegacy and
// decoders/netflow); templates are stored here, not in goflow2's store,
// because goflow2's store does not key by exporter.
//
// # Keys and bounds
//
// Templates are keyed by exporter address, protocol version, observation
// domain (IPFIX) or source ID (v9) and template ID. At most
// Config.MaxExporters exporters and Config.MaxTemplates templates per
// exporter are kept; datagrams beyond those bounds are dropped and counted
// ("exporter_limit", "template_limit"). A template not refreshed for
// Config.TemplateTTL of datagram time is forgotten; data that needs it is
// counted as "unknown_template" until the exporter resends it.
//
// # Time
//
// A record's start and end come from the record: NetFlow v5 and v9 give
// them as milliseconds of the exporter's uptime, converted with the
// header's sysUptime and UNIX seconds; IPFIX gives absolute times (seconds,
// milliseconds, microseconds or nanoseconds fields, or uptime-relative
// fields with systemInitTimeMilliseconds). Clock skew is the export time in
// the header minus the time the datagram was received, kept per exporter.
//
// # Sampling
//
// When an exporter reports a sampling interval (v5 header, v9/IPFIX option
// data, or a field of the data record itself), packets and bytes are
// multiplied by it and the record's Sampled field is set to the interval.
//
// # Bad input
//
// Decode never panics and allocates at most a bounded amount per datagram:
// truncated datagrams, unknown versions, absurd templates (no fields or no
// bytes per record, which would make a data set loop forever) and data for
// unknown templates are counted per reason in Stats.Drops and skipped.
package flowexport
