package value

import (
	"net/netip"
	"strings"
)

// IP families accepted by the IP address string functions.
type ipFamily uint8

const (
	ipAny ipFamily = iota
	ipV4
	ipV6
)

// parseIP accepts dotted-quad IPv4 (no leading zeros, as netip requires)
// and any RFC 4291 IPv6 text, including IPv4-mapped forms such as
// ::ffff:192.0.2.1, which count as IPv6 because that is how they are
// written. Zones (fe80::1%eth0) are not addresses in a log field's sense
// and are rejected.
func parseIP(v Value, fam ipFamily) (netip.Addr, bool) {
	s, ok := text(v)
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	switch fam {
	case ipV4:
		return a, a.Is4()
	case ipV6:
		return a, a.Is6()
	}
	return a, true
}

// ipFn is isValidIp / isValidIpV4 / isValidIpV6: true when the field is
// an address of that family. A missing field is not valid (false).
func ipFn(fam ipFamily) Func {
	return func(a []Value) (Value, error) {
		_, ok := parseIP(a[0], fam)
		return Bool(ok), nil
	}
}

// parseSubnet reads the subnet argument in CIDR notation, as AWS asks
// ("192.0.2.0/24", "2001:db8::/32"). Host bits may be set
// (192.0.2.7/24 means 192.0.2.0/24), and a bare address is a /32 or /128.
func parseSubnet(v Value) (netip.Prefix, bool) {
	s, ok := text(v)
	if !ok {
		return netip.Prefix{}, false
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return p.Masked(), true
}

// subnetFn is isIpInSubnet / isIpv4InSubnet / isIpv6InSubnet: true when
// the field is a valid address of the family inside the subnet. Families
// never mix: 192.0.2.1 is not in ::ffff:192.0.2.0/120. An invalid subnet
// makes the function false for every event rather than failing the query.
func subnetFn(fam ipFamily) Func {
	return func(a []Value) (Value, error) {
		addr, ok := parseIP(a[0], fam)
		if !ok {
			return Bool(false), nil
		}
		p, ok := parseSubnet(a[1])
		if !ok {
			return Bool(false), nil
		}
		if fam == ipV4 && !p.Addr().Is4() || fam == ipV6 && !p.Addr().Is6() {
			return Bool(false), nil
		}
		return Bool(p.Contains(addr)), nil
	}
}
