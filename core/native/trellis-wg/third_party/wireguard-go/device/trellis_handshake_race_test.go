/* Trellis: a test of the one fix this copy carries (TRELLIS.md). */

package device

import (
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn/bindtest"
	"golang.zx2c4.com/wireguard/tun/tuntest"
)

// racePair is two devices, up on an in-memory bind, each the other's peer (no endpoints, no
// keepalive: nothing is sent unless the test sends it).
func racePair(t *testing.T) (d1, d2 *Device, p12, p21 *Peer) {
	t.Helper()
	var keys [2]NoisePrivateKey
	devs := [2]*Device{}
	binds := bindtest.NewChannelBinds()
	for i := range devs {
		k, err := newPrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
		devs[i] = NewDevice(tuntest.NewChannelTUN().TUN(), binds[i], NewLogger(LogLevelError, fmt.Sprintf("dev%d: ", i+1)))
		t.Cleanup(devs[i].Close)
	}
	for i, d := range devs {
		other := keys[1-i].publicKey()
		cfg := fmt.Sprintf("private_key=%s\nlisten_port=0\npublic_key=%s\nallowed_ip=10.97.0.%d/32\n", hex.EncodeToString(keys[i][:]), hex.EncodeToString(other[:]), 2-i)
		if err := d.IpcSet(cfg); err != nil {
			t.Fatal(err)
		}
		if err := d.Up(); err != nil {
			t.Fatal(err)
		}
	}
	return devs[0], devs[1], devs[0].LookupPeer(keys[1].publicKey()), devs[1].LookupPeer(keys[0].publicKey())
}

// TestResponseAndPeersInitiationAtOnceLeaveNoUnreachableSession replays what two handshake
// workers of dev1 do when both ends start a handshake at the same moment: one handles dev2's
// response to dev1's initiation, the other dev2's own initiation (answered and made a session).
// The hook puts the second right after the first checked the state. Upstream checked under a read
// lock and recorded under a second one, so the second ran in between and zeroed the handshake's
// local index; the response then made a session under index 0, which no packet from dev2 can
// reach. With the check and the record under one lock, the second waits, and every session dev1
// holds is found by the index dev2 sends to.
func TestResponseAndPeersInitiationAtOnceLeaveNoUnreachableSession(t *testing.T) {
	d1, d2, p12, p21 := racePair(t)

	i1, err := d1.CreateMessageInitiation(p12)
	if err != nil {
		t.Fatal(err)
	}
	i2, err := d2.CreateMessageInitiation(p21)
	if err != nil {
		t.Fatal(err)
	}
	// dev2 answers dev1's initiation (its own handshake state is replaced, as on the wire).
	if d2.ConsumeMessageInitiation(i1) != p21 {
		t.Fatal("dev2 did not take dev1's initiation")
	}
	r1, err := d2.CreateMessageResponse(p21)
	if err != nil {
		t.Fatal(err)
	}
	if err := p21.BeginSymmetricSession(); err != nil {
		t.Fatal(err)
	}

	other := make(chan struct{})
	hookRan := false
	testHookResponseChecked = func() {
		hookRan = true
		go func() {
			defer close(other)
			if d1.ConsumeMessageInitiation(i2) != p12 {
				return
			}
			if _, err := d1.CreateMessageResponse(p12); err != nil {
				return
			}
			_ = p12.BeginSymmetricSession() // fails when the response's session came first: no harm
		}()
		// Give the other worker every chance to finish in between; with the fix it waits for the lock.
		select {
		case <-other:
		case <-time.After(200 * time.Millisecond):
		}
	}
	defer func() { testHookResponseChecked = nil }()

	if peer := d1.ConsumeMessageResponse(r1); peer != nil {
		_ = peer.BeginSymmetricSession() // fails when the initiation's session came first: no harm
	}
	<-other
	if !hookRan {
		t.Fatal("dev2's response was refused before its state check: the interleaving was not exercised")
	}

	p12.keypairs.RLock()
	held := map[string]*Keypair{"current": p12.keypairs.current, "previous": p12.keypairs.previous, "next": p12.keypairs.next.Load()}
	p12.keypairs.RUnlock()
	sessions := 0
	for which, kp := range held {
		if kp == nil {
			continue
		}
		sessions++
		if got := d1.indexTable.Lookup(kp.localIndex); got.keypair != kp {
			t.Errorf("dev1's %s session is under local index %d, where no packet from dev2 arrives", which, kp.localIndex)
		}
	}
	if sessions == 0 {
		t.Fatal("dev1 holds no session at all")
	}
}
