package disco

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func key(fill byte) Key {
	var k Key
	for i := range k {
		k[i] = fill + byte(i)
	}
	return k
}

func TestPairKeyIsSymmetric(t *testing.T) {
	a, b := key(1), key(100)
	ab, err := PairKey(a, PublicKey(b))
	if err != nil {
		t.Fatal(err)
	}
	ba, err := PairKey(b, PublicKey(a))
	if err != nil {
		t.Fatal(err)
	}
	if ab != ba {
		t.Fatal("both ends of a pair must derive the same key")
	}
	if _, err := PairKey(a, Key{}); err == nil {
		t.Fatal("an all-zero (low-order) public key must be refused")
	}
}

func TestSealOpen(t *testing.T) {
	a, b := key(1), key(100)
	k, _ := PairKey(a, PublicKey(b))
	m := &Message{Type: TypePing, Sender: PublicKey(a), Receiver: PublicKey(b), TxID: [12]byte{1, 2, 3}, Timestamp: 1_700_000_000_000_000, Body: []byte("pad")}
	sealed := m.Seal(k)
	if len(sealed) != HeaderLen+3+MACLen {
		t.Fatalf("sealed length %d", len(sealed))
	}
	got, err := Open(sealed, k)
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != m.Type || got.Sender != m.Sender || got.Receiver != m.Receiver || got.TxID != m.TxID || got.Timestamp != m.Timestamp || !bytes.Equal(got.Body, m.Body) {
		t.Fatalf("opened %+v, sealed %+v", got, m)
	}
	for i := range sealed {
		bad := append([]byte(nil), sealed...)
		bad[i] ^= 0x40
		if _, err := Open(bad, k); err == nil {
			t.Fatalf("a flipped bit at offset %d must not open", i)
		}
	}
	other, _ := PairKey(key(7), PublicKey(b))
	if _, err := Open(sealed, other); err != ErrMAC {
		t.Fatalf("another pair's key: %v, want ErrMAC", err)
	}
	if _, err := Open(sealed[:MinLen-1], k); err != ErrShort {
		t.Fatalf("short message: %v", err)
	}
}

func TestObservedAddress(t *testing.T) {
	for _, s := range []string{"198.18.0.5:51820", "[2001:db8::5]:3478"} {
		ap := netip.MustParseAddrPort(s)
		got, err := ReadObserved(AppendObserved(nil, ap))
		if err != nil || got != ap {
			t.Fatalf("%s: got %s, %v", s, got, err)
		}
	}
}

// vector is one entry of testdata/disco-vectors.json, which the TypeScript implementation
// (core/src/disco) is checked against too.
type vector struct {
	Name            string `json:"name"`
	SenderPrivate   string `json:"senderPrivate"`
	ReceiverPrivate string `json:"receiverPrivate"`
	Type            uint8  `json:"type"`
	TxID            string `json:"txId"`
	TimestampMicros uint64 `json:"timestampMicros"`
	BodyHex         string `json:"bodyHex"`
	SenderPublic    string `json:"senderPublic"`
	ReceiverPublic  string `json:"receiverPublic"`
	PairKeyHex      string `json:"pairKeyHex"`
	SealedHex       string `json:"sealedHex"`
	ObservedAddress string `json:"observedAddress,omitempty"`
}

const vectorsFile = "../../testdata/disco-vectors.json"

func buildVector(name string, sp, rp Key, typ uint8, tx [12]byte, ts uint64, body []byte, observed string) vector {
	k, _ := PairKey(sp, PublicKey(rp))
	m := &Message{Type: typ, Sender: PublicKey(sp), Receiver: PublicKey(rp), TxID: tx, Timestamp: ts, Body: body}
	b64 := base64.StdEncoding.EncodeToString
	spub, rpub := PublicKey(sp), PublicKey(rp)
	return vector{
		Name: name, SenderPrivate: b64(sp[:]), ReceiverPrivate: b64(rp[:]), Type: typ, TxID: hex.EncodeToString(tx[:]),
		TimestampMicros: ts, BodyHex: hex.EncodeToString(body), SenderPublic: b64(spub[:]), ReceiverPublic: b64(rpub[:]),
		PairKeyHex: hex.EncodeToString(k[:]), SealedHex: hex.EncodeToString(m.Seal(k)), ObservedAddress: observed,
	}
}

func vectors() []vector {
	a, r := key(1), key(0x41)
	return []vector{
		buildVector("ping from a node to a relay", a, r, TypePing, [12]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8}, 1_765_000_000_123_456, nil, ""),
		buildVector("pong from the relay, observed 198.18.0.11:51820", r, a, TypePong, [12]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8}, 1_765_000_000_124_000,
			AppendObserved(nil, netip.MustParseAddrPort("198.18.0.11:51820")), "198.18.0.11:51820"),
		buildVector("ping with padding", a, r, TypePing, [12]byte{9}, 1, bytes.Repeat([]byte{0}, 64), ""),
	}
}

func TestVectorsMatchTheCommittedFile(t *testing.T) {
	want := vectors()
	if os.Getenv("UPDATE_VECTORS") == "1" {
		js, _ := json.MarshalIndent(want, "", "  ")
		if err := os.MkdirAll(filepath.Dir(vectorsFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsFile, append(js, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_VECTORS=1 to write it)", err)
	}
	var got []vector
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d vectors in the file, %d computed", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("vector %q: file %+v, computed %+v", want[i].Name, got[i], want[i])
		}
	}
}
