// Package datagram tells the datagrams that share a WireGuard UDP socket apart: WireGuard's own
// messages, STUN (RFC 8489) and Trellis disco (PROTOCOL.md). It looks at a few header bytes only,
// so it costs nothing on the data path.
package datagram

import "encoding/binary"

// Kind is what a datagram on the WireGuard socket is.
type Kind uint8

const (
	// Other is anything else; WireGuard drops it as it always did.
	Other Kind = 0
	// STUN is an RFC 8489 message (binding request, response or indication).
	STUN Kind = 1
	// Disco is a Trellis disco message: the magic "TRLD", then a version byte.
	Disco Kind = 2
	// WireGuard is a WireGuard message: type 1-4 followed by three zero bytes.
	WireGuard Kind = 3
)

func (k Kind) String() string {
	switch k {
	case STUN:
		return "stun"
	case Disco:
		return "disco"
	case WireGuard:
		return "wireguard"
	}
	return "other"
}

// STUNMagicCookie is the fixed value at offset 4 of every RFC 5389/8489 message.
const STUNMagicCookie = 0x2112A442

// STUNHeaderLen is the size of a STUN message header.
const STUNHeaderLen = 20

// DiscoMagic starts every Trellis disco message.
var DiscoMagic = [4]byte{'T', 'R', 'L', 'D'}

// IsWireGuard reports a WireGuard message: its little-endian 32-bit type field is 1, 2, 3 or 4.
func IsWireGuard(b []byte) bool {
	return len(b) >= 4 && b[0] >= 1 && b[0] <= 4 && b[1] == 0 && b[2] == 0 && b[3] == 0
}

// IsSTUN reports an RFC 8489 message: the two top bits zero, the magic cookie at offset 4, and a
// length field that counts exactly the bytes after the header, in 4-byte units.
func IsSTUN(b []byte) bool {
	if len(b) < STUNHeaderLen || b[0]&0xC0 != 0 {
		return false
	}
	if binary.BigEndian.Uint32(b[4:8]) != STUNMagicCookie {
		return false
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	return n%4 == 0 && n == len(b)-STUNHeaderLen
}

// IsDisco reports a Trellis disco message: the magic and at least a version byte. The version is
// the reader's to check, so a newer agent's messages still reach it.
func IsDisco(b []byte) bool {
	return len(b) >= 5 && b[0] == DiscoMagic[0] && b[1] == DiscoMagic[1] && b[2] == DiscoMagic[2] && b[3] == DiscoMagic[3]
}

// Classify says what a datagram is. WireGuard is tested first: it is nearly every datagram.
func Classify(b []byte) Kind {
	switch {
	case IsWireGuard(b):
		return WireGuard
	case IsSTUN(b):
		return STUN
	case IsDisco(b):
		return Disco
	}
	return Other
}
