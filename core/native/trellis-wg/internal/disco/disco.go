// Package disco is the Trellis disco message format (PROTOCOL.md, "Disco messages"): pings,
// pongs and path messages that nodes and relays exchange on their WireGuard UDP sockets,
// authenticated with HMAC-SHA256 under a key both ends of a pair derive from their WireGuard keys.
package disco

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/crypto/curve25519"
)

// Version is the format version this package writes and reads.
const Version = 1

// Message types.
const (
	TypePing = 1
	TypePong = 2
	// TypePath is the agent's path message (the pair's chosen path); relays forward it like any other.
	TypePath = 3
)

// Offsets and sizes of the fixed header.
const (
	offVersion   = 4
	offType      = 5
	offSender    = 6
	offReceiver  = 38
	offTxID      = 70
	offTimestamp = 82
	HeaderLen    = 90
	MACLen       = sha256.Size
	MinLen       = HeaderLen + MACLen
	// MaxLen keeps a message within the IPv6 minimum MTU with room for UDP/IP headers.
	MaxLen = 1232
)

// Key is an X25519 (WireGuard) key.
type Key [32]byte

// Magic starts every disco message.
var Magic = [4]byte{'T', 'R', 'L', 'D'}

// keyLabel separates disco keys from any other use of the pair's shared secret.
const keyLabel = "trellis-disco-v1"

// Message is one disco message, before it is sealed or after it was opened.
type Message struct {
	Type      uint8
	Sender    Key
	Receiver  Key
	TxID      [12]byte
	Timestamp uint64 // sender's clock, Unix microseconds
	Body      []byte
}

// Header is the part a relay reads without the pair's key.
type Header struct {
	Version  uint8
	Type     uint8
	Sender   Key
	Receiver Key
}

var (
	ErrShort   = errors.New("disco message shorter than its header and MAC")
	ErrLong    = fmt.Errorf("disco message longer than %d bytes", MaxLen)
	ErrMagic   = errors.New("not a disco message (magic is not TRLD)")
	ErrVersion = errors.New("disco version not supported")
	ErrMAC     = errors.New("disco MAC does not verify")
	ErrLowKey  = errors.New("X25519 result is all zeros (low-order public key)")
)

// PublicKey is the X25519 public key of a private key.
func PublicKey(private Key) Key {
	var pub Key
	p, _ := curve25519.X25519(private[:], curve25519.Basepoint)
	copy(pub[:], p)
	return pub
}

// PairKey is the MAC key of the pair (own private, peer public): SHA-256("trellis-disco-v1" ||
// X25519(own private, peer public)). Both ends get the same key.
func PairKey(private, peerPublic Key) (Key, error) {
	shared, err := curve25519.X25519(private[:], peerPublic[:])
	if err != nil {
		return Key{}, ErrLowKey
	}
	h := sha256.New()
	h.Write([]byte(keyLabel))
	h.Write(shared)
	var k Key
	copy(k[:], h.Sum(nil))
	return k, nil
}

// ParseHeader reads the header fields of a disco message without checking its MAC.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < MinLen {
		return Header{}, ErrShort
	}
	if len(b) > MaxLen {
		return Header{}, ErrLong
	}
	if [4]byte(b[:4]) != Magic {
		return Header{}, ErrMagic
	}
	if b[offVersion] != Version {
		return Header{}, ErrVersion
	}
	var h Header
	h.Version = b[offVersion]
	h.Type = b[offType]
	copy(h.Sender[:], b[offSender:offReceiver])
	copy(h.Receiver[:], b[offReceiver:offTxID])
	return h, nil
}

// Seal writes the message and its MAC under key.
func (m *Message) Seal(key Key) []byte {
	b := make([]byte, 0, HeaderLen+len(m.Body)+MACLen)
	b = append(b, Magic[:]...)
	b = append(b, Version, m.Type)
	b = append(b, m.Sender[:]...)
	b = append(b, m.Receiver[:]...)
	b = append(b, m.TxID[:]...)
	b = binary.BigEndian.AppendUint64(b, m.Timestamp)
	b = append(b, m.Body...)
	mac := hmac.New(sha256.New, key[:])
	mac.Write(b)
	return mac.Sum(b)
}

// Open checks the MAC under key and returns the message.
func Open(b []byte, key Key) (*Message, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	end := len(b) - MACLen
	mac := hmac.New(sha256.New, key[:])
	mac.Write(b[:end])
	if subtle.ConstantTimeCompare(mac.Sum(nil), b[end:]) != 1 {
		return nil, ErrMAC
	}
	m := &Message{Type: h.Type, Sender: h.Sender, Receiver: h.Receiver, Timestamp: binary.BigEndian.Uint64(b[offTimestamp:HeaderLen])}
	copy(m.TxID[:], b[offTxID:offTimestamp])
	m.Body = append([]byte(nil), b[HeaderLen:end]...)
	return m, nil
}

// AppendObserved writes a pong's body: the address the ping came from, as family (4 or 6),
// address bytes and a big-endian port.
func AppendObserved(b []byte, ap netip.AddrPort) []byte {
	a := ap.Addr().Unmap()
	if a.Is4() {
		v := a.As4()
		b = append(append(b, 4), v[:]...)
	} else {
		v := a.As16()
		b = append(append(b, 6), v[:]...)
	}
	return binary.BigEndian.AppendUint16(b, ap.Port())
}

// ReadObserved reads a pong's body.
func ReadObserved(b []byte) (netip.AddrPort, error) {
	switch {
	case len(b) >= 7 && b[0] == 4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[1:5])), binary.BigEndian.Uint16(b[5:7])), nil
	case len(b) >= 19 && b[0] == 6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[1:17])), binary.BigEndian.Uint16(b[17:19])), nil
	}
	return netip.AddrPort{}, errors.New("pong body is not an observed address")
}
