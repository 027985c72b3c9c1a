package datagram

import (
	"encoding/binary"
	"testing"
)

func stunBindingRequest() []byte {
	b := make([]byte, 20+8)
	binary.BigEndian.PutUint16(b[0:2], 0x0001)
	binary.BigEndian.PutUint16(b[2:4], 8)
	binary.BigEndian.PutUint32(b[4:8], STUNMagicCookie)
	copy(b[8:20], "txid-abcdefg")
	binary.BigEndian.PutUint16(b[20:22], 0x8022) // SOFTWARE
	binary.BigEndian.PutUint16(b[22:24], 4)
	copy(b[24:28], "test")
	return b
}

func wireGuard(msgType byte, size int) []byte {
	b := make([]byte, size)
	b[0] = msgType
	return b
}

func TestClassify(t *testing.T) {
	stunResponse := stunBindingRequest()
	stunResponse[0], stunResponse[1] = 0x01, 0x01 // binding success response: first byte 1, but not WireGuard
	disco := append([]byte("TRLD"), 1, 1)
	cases := []struct {
		name string
		b    []byte
		want Kind
	}{
		{"handshake initiation", wireGuard(1, 148), WireGuard},
		{"handshake response", wireGuard(2, 92), WireGuard},
		{"cookie reply", wireGuard(3, 64), WireGuard},
		{"transport data", wireGuard(4, 1452), WireGuard},
		{"keepalive", wireGuard(4, 32), WireGuard},
		{"STUN binding request", stunBindingRequest(), STUN},
		{"STUN binding response (type byte 1, second byte 1)", stunResponse, STUN},
		{"STUN header only", stunBindingRequest()[:20], Other}, // length field says 8 more bytes
		{"disco", disco, Disco},
		{"disco magic without version", []byte("TRLD"), Other},
		{"type 5", wireGuard(5, 64), Other},
		{"type 1 with a non-zero reserved byte", []byte{1, 0, 1, 0, 9, 9}, Other},
		{"empty", nil, Other},
		{"three bytes", []byte{4, 0, 0}, Other},
	}
	for _, c := range cases {
		if got := Classify(c.b); got != c.want {
			t.Errorf("%s: Classify = %s, want %s", c.name, got, c.want)
		}
	}
}

func TestSTUNNeedsCookieAndZeroTopBits(t *testing.T) {
	b := stunBindingRequest()
	b[4] ^= 1
	if IsSTUN(b) {
		t.Fatal("a wrong magic cookie must not read as STUN")
	}
	b = stunBindingRequest()
	b[0] |= 0x80
	if IsSTUN(b) {
		t.Fatal("a first byte with its top bit set must not read as STUN")
	}
}
