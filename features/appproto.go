package features

// AppProto is the application protocol a flow is counted under in the
// run statistics (Stats.Apps): recognised by its payload where the hints
// parse it (DNS, HTTP, TLS, SSH), otherwise by its service port (the
// responder's port, else the initiator's, so an unsolicited DNS response
// from port 53 counts as DNS), otherwise by its transport.
type AppProto uint8

// The application protocols, in the order Stats.Apps indexes them.
const (
	AppOther AppProto = iota // not IP-transport TCP/UDP/ICMP, or no ports
	AppOtherTCP
	AppOtherUDP
	AppICMP
	AppDNS
	AppMDNS
	AppLLMNR
	AppNetBIOS
	AppDHCP
	AppNTP
	AppSNMP
	AppSSDP
	AppSyslog
	AppTFTP
	AppSIP
	AppIKE
	AppQUIC
	AppMemcached
	AppHTTP
	AppTLS
	AppSSH
	AppTelnet
	AppFTP
	AppSMTP
	AppPOP3
	AppIMAP
	AppSMB
	AppMSRPC
	AppLDAP
	AppKerberos
	AppRDP
	AppVNC
	AppMySQL
	AppPostgres
	AppMSSQL
	AppRedis
	AppMQTT
	AppBGP
	NumAppProtos
)

var appProtoNames = [NumAppProtos]string{
	"other", "other_tcp", "other_udp", "icmp",
	"dns", "mdns", "llmnr", "netbios", "dhcp", "ntp", "snmp", "ssdp", "syslog", "tftp", "sip", "ike", "quic", "memcached",
	"http", "tls", "ssh", "telnet", "ftp", "smtp", "pop3", "imap", "smb", "msrpc", "ldap", "kerberos", "rdp", "vnc",
	"mysql", "postgresql", "mssql", "redis", "mqtt", "bgp",
}

// String returns the protocol's name as the summary and /metrics print it
// ("dns", "http", "other_tcp").
func (a AppProto) String() string {
	if a < NumAppProtos {
		return appProtoNames[a]
	}
	return "unknown"
}

// AppCount counts the final flow records of one application protocol and
// their packets and IP-layer bytes, both directions.
type AppCount struct {
	Flows   uint64 `json:"flows"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// classifyApp names the application protocol of a flow record: payload
// evidence first (a, which may be nil), then the ports, then the
// transport.
func classifyApp(id *FlowID, a *appState) AppProto {
	if a != nil {
		switch {
		case a.dnsQ > 0 || a.dnsR > 0:
			return AppDNS
		case a.tlsHello:
			return AppTLS
		case a.sshBanner != 0:
			return AppSSH
		case a.httpReq > 0 || a.httpResp > 0:
			return AppHTTP
		}
	}
	switch id.Proto {
	case 1, 58:
		return AppICMP
	case 6:
		if p := tcpApp(id.Dport); p != AppOther {
			return p
		}
		if p := tcpApp(id.Sport); p != AppOther {
			return p
		}
		return AppOtherTCP
	case 17:
		if p := udpApp(id.Dport); p != AppOther {
			return p
		}
		if p := udpApp(id.Sport); p != AppOther {
			return p
		}
		return AppOtherUDP
	}
	return AppOther
}

// tcpApp is the IANA assignment of a TCP service port, AppOther for
// ports it does not name.
func tcpApp(port uint16) AppProto {
	switch port {
	case 53:
		return AppDNS
	case 80, 8000, 8008, 8080, 8888:
		return AppHTTP
	case 443, 465, 636, 853, 993, 995, 8443:
		return AppTLS
	case 22:
		return AppSSH
	case 23:
		return AppTelnet
	case 20, 21:
		return AppFTP
	case 25, 587:
		return AppSMTP
	case 110:
		return AppPOP3
	case 143:
		return AppIMAP
	case 445:
		return AppSMB
	case 139:
		return AppNetBIOS
	case 135:
		return AppMSRPC
	case 389:
		return AppLDAP
	case 88:
		return AppKerberos
	case 3389:
		return AppRDP
	case 5900:
		return AppVNC
	case 3306:
		return AppMySQL
	case 5432:
		return AppPostgres
	case 1433:
		return AppMSSQL
	case 6379:
		return AppRedis
	case 1883:
		return AppMQTT
	case 179:
		return AppBGP
	case 5060:
		return AppSIP
	case 11211:
		return AppMemcached
	}
	return AppOther
}

// udpApp is the IANA assignment of a UDP service port, AppOther for
// ports it does not name.
func udpApp(port uint16) AppProto {
	switch port {
	case 53:
		return AppDNS
	case 5353:
		return AppMDNS
	case 5355:
		return AppLLMNR
	case 137, 138:
		return AppNetBIOS
	case 67, 68, 546, 547:
		return AppDHCP
	case 123:
		return AppNTP
	case 161, 162:
		return AppSNMP
	case 1900:
		return AppSSDP
	case 514:
		return AppSyslog
	case 69:
		return AppTFTP
	case 5060:
		return AppSIP
	case 500, 4500:
		return AppIKE
	case 443:
		return AppQUIC
	case 11211:
		return AppMemcached
	case 88:
		return AppKerberos
	case 389:
		return AppLDAP
	}
	return AppOther
}

// AppCounts returns the non-zero per-application counts by name, for run
// summaries and /metrics.
func (s *Stats) AppCounts() map[string]AppCount {
	m := map[string]AppCount{}
	for i, c := range s.Apps {
		if c.Flows > 0 || c.Packets > 0 {
			m[AppProto(i).String()] = c
		}
	}
	return m
}
