// Package control is the unix-socket protocol between trellis-wg and the agent (PROTOCOL.md,
// "Control socket"): length-prefixed frames, binary for datagrams, JSON for the rest.
package control

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// Frame types. The first byte of every frame body.
const (
	// TypeInfo (device or relay → client): id u32, then a JSON object. Sent on connect and on
	// change with id 0, and in answer to TypeGetInfo with the request's id.
	TypeInfo = 0x01
	// TypeDatagram (device → client): kind u8, from endpoint, local ip, payload.
	TypeDatagram = 0x02
	// TypeSend (client → device): id u32, to endpoint, from ip, payload.
	TypeSend = 0x03
	// TypeResult (device or relay → client): id u32, status u8, message (UTF-8, empty when ok).
	TypeResult = 0x04
	// TypeGetInfo (client → device or relay): id u32.
	TypeGetInfo = 0x05
	// TypeHandshake (client → device): id u32, the peer's public key (32 bytes). The device sends
	// that peer a handshake initiation now, to the peer's current endpoint.
	TypeHandshake = 0x06
	// TypeWatch (client → device): id u32, then a JSON object (WatchRequest): the overlay
	// addresses whose traffic the device reports with TypeDemand (on-demand peers).
	TypeWatch = 0x07
	// TypeDemand (device → client): direction u8 (1 outbound, by destination; 2 inbound, by
	// source), ip: a packet of a watched address crossed the TUN (rate-limited per address).
	TypeDemand = 0x08
	// TypeRelayConfig (client → relay): id u32, then a JSON object (RelayConfig).
	TypeRelayConfig = 0x10
)

// Result statuses.
const (
	StatusOK           = 0
	StatusMalformed    = 1
	StatusRefused      = 2
	StatusSendFailed   = 3
	StatusClosed       = 4
	StatusUnknownType  = 5
	StatusInvalidInput = 6
	StatusNoPeer       = 7
)

// MaxFrame bounds a frame body: a 64 KiB datagram and its addresses fit; anything larger is a
// broken peer, and the connection is closed.
const MaxFrame = 1 << 17

// ErrFrameTooLarge is returned when a frame announces more than MaxFrame bytes.
var ErrFrameTooLarge = errors.New("control frame larger than 128 KiB")

// ReadFrame reads one frame body (type byte first).
func ReadFrame(r *bufio.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 {
		return nil, errors.New("empty control frame")
	}
	if n > MaxFrame {
		return nil, ErrFrameTooLarge
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return body, nil
}

// Frame prefixes a body with its length.
func Frame(body []byte) []byte {
	out := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(out, uint32(len(body)))
	return append(out, body...)
}

// AppendIP writes an address as family (0 = none, 4, 6) and its 0, 4 or 16 bytes.
func AppendIP(b []byte, a netip.Addr) []byte {
	switch {
	case !a.IsValid():
		return append(b, 0)
	case a.Unmap().Is4():
		v := a.Unmap().As4()
		return append(append(b, 4), v[:]...)
	default:
		v := a.As16()
		return append(append(b, 6), v[:]...)
	}
}

// AppendEndpoint writes an address (AppendIP) and a big-endian port.
func AppendEndpoint(b []byte, ap netip.AddrPort) []byte {
	b = AppendIP(b, ap.Addr())
	if !ap.Addr().IsValid() {
		return b
	}
	return binary.BigEndian.AppendUint16(b, ap.Port())
}

// ReadIP reads what AppendIP wrote; an invalid Addr for family 0.
func ReadIP(b []byte) (netip.Addr, []byte, error) {
	if len(b) < 1 {
		return netip.Addr{}, nil, errors.New("address family missing")
	}
	switch b[0] {
	case 0:
		return netip.Addr{}, b[1:], nil
	case 4:
		if len(b) < 5 {
			return netip.Addr{}, nil, errors.New("IPv4 address cut short")
		}
		return netip.AddrFrom4([4]byte(b[1:5])), b[5:], nil
	case 6:
		if len(b) < 17 {
			return netip.Addr{}, nil, errors.New("IPv6 address cut short")
		}
		return netip.AddrFrom16([16]byte(b[1:17])), b[17:], nil
	}
	return netip.Addr{}, nil, fmt.Errorf("address family %d is not 0, 4 or 6", b[0])
}

// ReadEndpoint reads what AppendEndpoint wrote.
func ReadEndpoint(b []byte) (netip.AddrPort, []byte, error) {
	a, rest, err := ReadIP(b)
	if err != nil || !a.IsValid() {
		return netip.AddrPort{}, rest, err
	}
	if len(rest) < 2 {
		return netip.AddrPort{}, nil, errors.New("port cut short")
	}
	return netip.AddrPortFrom(a, binary.BigEndian.Uint16(rest[:2])), rest[2:], nil
}

// Result builds a TypeResult body.
func Result(id uint32, status uint8, msg string) []byte {
	b := []byte{TypeResult}
	b = binary.BigEndian.AppendUint32(b, id)
	b = append(b, status)
	return append(b, msg...)
}

// Info builds a TypeInfo body from an already encoded JSON object.
func Info(id uint32, js []byte) []byte {
	b := []byte{TypeInfo}
	b = binary.BigEndian.AppendUint32(b, id)
	return append(b, js...)
}

// RequestID reads the id that follows the type byte of a request; ok is false when it is cut short.
func RequestID(body []byte) (uint32, bool) {
	if len(body) < 5 {
		return 0, false
	}
	return binary.BigEndian.Uint32(body[1:5]), true
}
