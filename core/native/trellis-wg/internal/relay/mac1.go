package relay

import (
	"crypto/subtle"

	"golang.org/x/crypto/blake2s"
)

// WireGuard message layout (whitepaper section 5.4), as much as a relay needs.
const (
	msgInitiation = 1
	msgResponse   = 2
	msgCookie     = 3
	msgTransport  = 4

	initiationSize   = 148
	responseSize     = 92
	cookieReplySize  = 64
	transportMinSize = 32

	// mac1 covers every byte before it; it is followed by mac2.
	initiationMAC1At = 116
	responseMAC1At   = 60
	mac1Len          = 16
)

// mac1Label is WireGuard's LABEL_MAC1.
const mac1Label = "mac1----"

// mac1Key is HASH(LABEL_MAC1 || responder public key): the key of the MAC1 every message to
// that responder carries.
func mac1Key(pub [32]byte) [32]byte {
	h, _ := blake2s.New256(nil)
	h.Write([]byte(mac1Label))
	h.Write(pub[:])
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// mac1Matches says whether msg's MAC1 (at mac1At) is MAC(key, msg[:mac1At]): the message is
// addressed to the node whose public key made key.
func mac1Matches(key *[32]byte, msg []byte, mac1At int) bool {
	h, _ := blake2s.New128(key[:])
	h.Write(msg[:mac1At])
	var sum [mac1Len]byte
	h.Sum(sum[:0])
	return subtle.ConstantTimeCompare(sum[:], msg[mac1At:mac1At+mac1Len]) == 1
}
