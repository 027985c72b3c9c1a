package relay

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/crypto/blake2s"

	"trellis-wg/internal/disco"
)

type testNode struct {
	priv, pub Key
	addr      netip.AddrPort
	lastTS    uint64
}

func newNode(t *testing.T, addr string) *testNode {
	t.Helper()
	var priv Key
	if _, err := rand.Read(priv[:]); err != nil {
		t.Fatal(err)
	}
	return &testNode{priv: priv, pub: disco.PublicKey(priv), addr: netip.MustParseAddrPort(addr)}
}

// mac1 computes WireGuard's MAC1 of msg[:at] for the responder pub, independently of mac1.go.
func mac1(pub Key, msg []byte, at int) {
	kh, _ := blake2s.New256(nil)
	kh.Write([]byte("mac1----"))
	kh.Write(pub[:])
	key := kh.Sum(nil)
	h, _ := blake2s.New128(key)
	h.Write(msg[:at])
	copy(msg[at:at+16], h.Sum(nil))
}

func initiation(sender uint32, to Key) []byte {
	p := make([]byte, initiationSize)
	rand.Read(p)
	p[0], p[1], p[2], p[3] = 1, 0, 0, 0
	binary.LittleEndian.PutUint32(p[4:8], sender)
	mac1(to, p, initiationMAC1At)
	return p
}

func response(sender, receiver uint32, to Key) []byte {
	p := make([]byte, responseSize)
	rand.Read(p)
	p[0], p[1], p[2], p[3] = 2, 0, 0, 0
	binary.LittleEndian.PutUint32(p[4:8], sender)
	binary.LittleEndian.PutUint32(p[8:12], receiver)
	mac1(to, p, responseMAC1At)
	return p
}

func transport(receiver uint32, size int) []byte {
	p := make([]byte, size)
	p[0] = 4
	binary.LittleEndian.PutUint32(p[4:8], receiver)
	return p
}

func cookieReply(receiver uint32) []byte {
	p := make([]byte, cookieReplySize)
	p[0] = 3
	binary.LittleEndian.PutUint32(p[4:8], receiver)
	return p
}

func (n *testNode) ping(t *testing.T, relayPub Key, now time.Time) []byte {
	t.Helper()
	k, err := disco.PairKey(n.priv, relayPub)
	if err != nil {
		t.Fatal(err)
	}
	ts := uint64(now.UnixMicro())
	if ts <= n.lastTS {
		ts = n.lastTS + 1
	}
	n.lastTS = ts
	var tx [12]byte
	rand.Read(tx[:])
	return (&disco.Message{Type: disco.TypePing, Sender: n.pub, Receiver: relayPub, TxID: tx, Timestamp: ts}).Seal(k)
}

type fixture struct {
	r       *Relay
	relay   *testNode
	a, b, c *testNode
	now     time.Time
}

func setup(t *testing.T, pairs ...[2]*testNode) *fixture {
	t.Helper()
	f := &fixture{r: New(), relay: newNode(t, "198.18.0.3:3479"), a: newNode(t, "198.18.0.1:51820"), b: newNode(t, "198.18.0.2:51820"), c: newNode(t, "[2001:db8::c]:51820"), now: time.Unix(1_765_000_000, 0)}
	if len(pairs) == 0 {
		pairs = [][2]*testNode{{f.a, f.b}}
	}
	list := make([][2]Key, 0, len(pairs))
	for _, p := range pairs {
		list = append(list, [2]Key{p[0].pub, p[1].pub})
	}
	if err := f.r.Configure(Config{PrivateKey: &f.relay.priv, Pairs: &list}); err != nil {
		t.Fatal(err)
	}
	return f
}

// setupPairs configures the allow-list by names: "ab" is the pair of nodes a and b.
func setupPairs(t *testing.T, names ...string) *fixture {
	f := setup(t)
	byName := map[byte]*testNode{'a': f.a, 'b': f.b, 'c': f.c}
	list := [][2]Key{}
	for _, n := range names {
		list = append(list, [2]Key{byName[n[0]].pub, byName[n[1]].pub})
	}
	if err := f.r.Configure(Config{Pairs: &list}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) learn(t *testing.T, nodes ...*testNode) {
	t.Helper()
	for _, n := range nodes {
		d := f.r.Handle(n.ping(t, f.relay.pub, f.now), n.addr, f.now)
		if d.Action != Reply || d.To != n.addr {
			t.Fatalf("ping from %s: %+v, want a pong back to it", n.addr, d)
		}
	}
}

func expectForward(t *testing.T, what string, d Decision, to netip.AddrPort) {
	t.Helper()
	if d.Action != Forward || d.To != to {
		t.Fatalf("%s: %+v (drop reason %s), want forward to %s", what, d, d.Reason, to)
	}
}

func expectDrop(t *testing.T, what string, d Decision, why DropReason) {
	t.Helper()
	if d.Action != Drop || d.Reason != why {
		t.Fatalf("%s: action %d reason %s, want drop (%s)", what, d.Action, d.Reason, why)
	}
}

func TestInitiationGoesToTheNodeWhoseKeyMadeItsMAC1(t *testing.T) {
	f := setupPairs(t, "ab", "ac")
	f.learn(t, f.a, f.b, f.c)
	expectForward(t, "initiation a→c", f.r.Handle(initiation(1, f.c.pub), f.a.addr, f.now), f.c.addr)
	expectForward(t, "initiation a→b", f.r.Handle(initiation(2, f.b.pub), f.a.addr, f.now), f.b.addr)
	expectForward(t, "initiation c→a", f.r.Handle(initiation(3, f.a.pub), f.c.addr, f.now), f.a.addr)
	// MAC1 for a key the relay does not serve.
	stranger := newNode(t, "198.18.0.9:1")
	expectDrop(t, "initiation for an unknown key", f.r.Handle(initiation(4, stranger.pub), f.a.addr, f.now), DropUnknownDestination)
	// A bit flipped in the covered bytes: the MAC1 matches no key.
	p := initiation(5, f.b.pub)
	p[20] ^= 1
	expectDrop(t, "initiation with a broken MAC1", f.r.Handle(p, f.a.addr, f.now), DropUnknownDestination)
	expectDrop(t, "initiation of the wrong size", f.r.Handle(initiation(6, f.b.pub)[:147], f.a.addr, f.now), DropMalformed)
}

func TestOnlyAllowedPairsAreForwarded(t *testing.T) {
	f := setupPairs(t, "ab", "bc")
	f.learn(t, f.a, f.b, f.c)
	expectDrop(t, "initiation a→c (not a pair)", f.r.Handle(initiation(1, f.c.pub), f.a.addr, f.now), DropNotAllowed)
	expectForward(t, "initiation b→c", f.r.Handle(initiation(2, f.c.pub), f.b.addr, f.now), f.c.addr)
	// Disco between nodes follows the same list.
	k, _ := disco.PairKey(f.a.priv, f.c.pub)
	ping := (&disco.Message{Type: disco.TypePing, Sender: f.a.pub, Receiver: f.c.pub, Timestamp: 1}).Seal(k)
	expectDrop(t, "disco a→c", f.r.Handle(ping, f.a.addr, f.now), DropNotAllowed)
	k, _ = disco.PairKey(f.a.priv, f.b.pub)
	ping = (&disco.Message{Type: disco.TypePing, Sender: f.a.pub, Receiver: f.b.pub, Timestamp: 1}).Seal(k)
	expectForward(t, "disco a→b", f.r.Handle(ping, f.a.addr, f.now), f.b.addr)
	// A disco message claiming another sender than the node at its source address.
	k, _ = disco.PairKey(f.c.priv, f.b.pub)
	ping = (&disco.Message{Type: disco.TypePing, Sender: f.c.pub, Receiver: f.b.pub, Timestamp: 1}).Seal(k)
	expectDrop(t, "disco from a's address claiming c", f.r.Handle(ping, f.a.addr, f.now), DropSenderMismatch)
	// Counted under their reasons.
	info := f.r.Snapshot(f.now)
	if info.Counters.Drops["notAllowed"] != 2 || info.Counters.Drops["senderMismatch"] != 1 {
		t.Fatalf("drop counters %v", info.Counters.Drops)
	}
}

func TestIndexTablesCarryAWholeSession(t *testing.T) {
	f := setupPairs(t, "ab", "bc")
	f.learn(t, f.a, f.b, f.c)
	const ia, ib = 0x11111111, 0x22222222
	expectForward(t, "initiation a→b", f.r.Handle(initiation(ia, f.b.pub), f.a.addr, f.now), f.b.addr)
	expectForward(t, "response b→a", f.r.Handle(response(ib, ia, f.a.pub), f.b.addr, f.now), f.a.addr)
	expectForward(t, "data a→b", f.r.Handle(transport(ib, 1452), f.a.addr, f.now), f.b.addr)
	expectForward(t, "data b→a", f.r.Handle(transport(ia, 32), f.b.addr, f.now), f.a.addr)
	expectForward(t, "cookie reply b→a", f.r.Handle(cookieReply(ia), f.b.addr, f.now), f.a.addr)
	expectDrop(t, "data with an index nobody handed out", f.r.Handle(transport(0x33333333, 100), f.a.addr, f.now), DropUnknownIndex)
	// The index belongs to the pair: c (b's other partner) cannot use a's index to reach a.
	expectDrop(t, "data from c with a's index", f.r.Handle(transport(ia, 100), f.c.addr, f.now), DropUnknownIndex)
	expectDrop(t, "response from c to a's initiation", f.r.Handle(response(0x44, ia, f.a.pub), f.c.addr, f.now), DropUnknownIndex)
	// A response whose MAC1 is not for the initiator.
	expectForward(t, "second initiation a→b", f.r.Handle(initiation(0x55, f.b.pub), f.a.addr, f.now), f.b.addr)
	expectDrop(t, "response with MAC1 for the wrong key", f.r.Handle(response(0x66, 0x55, f.c.pub), f.b.addr, f.now), DropBadMAC)
	// Unauthenticated sources are never forwarded, whatever they send.
	stranger := netip.MustParseAddrPort("203.0.113.5:40000")
	expectDrop(t, "data from an address no node pinged from", f.r.Handle(transport(ib, 100), stranger, f.now), DropUnknownSource)
	expectDrop(t, "initiation from an address no node pinged from", f.r.Handle(initiation(7, f.b.pub), stranger, f.now), DropUnknownSource)
}

func TestRoutesAndAddressesExpire(t *testing.T) {
	f := setupPairs(t, "ab")
	f.learn(t, f.a, f.b)
	const ia, ib = 0x10, 0x20
	expectForward(t, "initiation", f.r.Handle(initiation(ia, f.b.pub), f.a.addr, f.now), f.b.addr)
	// An unanswered initiation's index lives PendingTTL.
	late := f.now.Add(PendingTTL + time.Second)
	f.now = late
	f.learn(t, f.a, f.b) // keep the addresses fresh; only the index is old
	expectDrop(t, "response after the pending index expired", f.r.Handle(response(ib, ia, f.a.pub), f.b.addr, f.now), DropUnknownIndex)

	expectForward(t, "initiation", f.r.Handle(initiation(ia+1, f.b.pub), f.a.addr, f.now), f.b.addr)
	expectForward(t, "response", f.r.Handle(response(ib+1, ia+1, f.a.pub), f.b.addr, f.now), f.a.addr)
	// Traffic keeps a session's indexes alive past SessionTTL ...
	for i := 0; i < 4; i++ {
		f.now = f.now.Add(SessionTTL / 2)
		f.learn(t, f.a, f.b)
		expectForward(t, "data a→b", f.r.Handle(transport(ib+1, 64), f.a.addr, f.now), f.b.addr)
		expectForward(t, "data b→a", f.r.Handle(transport(ia+1, 64), f.b.addr, f.now), f.a.addr)
	}
	// ... and an idle one is gone after it, also from the table (Sweep).
	f.now = f.now.Add(SessionTTL + time.Second)
	f.learn(t, f.a, f.b)
	f.r.Sweep(f.now)
	if n := f.r.Snapshot(f.now).Routes; n != 0 {
		t.Fatalf("%d routes left after SessionTTL idle and a sweep", n)
	}
	expectDrop(t, "data after SessionTTL idle", f.r.Handle(transport(ib+1, 64), f.a.addr, f.now), DropUnknownIndex)

	// A node that stops pinging is forgotten after the node TTL.
	f.now = f.now.Add(DefaultNodeTTL + time.Second)
	expectDrop(t, "initiation from a node whose address expired", f.r.Handle(initiation(9, f.b.pub), f.a.addr, f.now), DropUnknownSource)
	f.r.Sweep(f.now)
	for _, n := range f.r.Snapshot(f.now).Nodes {
		if n.Address != "" {
			t.Fatalf("node %s still has address %s after the TTL", n.PublicKey, n.Address)
		}
	}
}

func TestPingsAreAuthenticatedFreshAndMoveTheNode(t *testing.T) {
	f := setupPairs(t, "ab")
	f.learn(t, f.a)
	// The pong is the relay's, for a, under the pair key, and says where the ping came from.
	d := f.r.Handle(f.a.ping(t, f.relay.pub, f.now), f.a.addr, f.now)
	k, _ := disco.PairKey(f.a.priv, f.relay.pub)
	pong, err := disco.Open(d.Reply, k)
	if err != nil || pong.Type != disco.TypePong || pong.Sender != f.relay.pub || pong.Receiver != f.a.pub {
		t.Fatalf("pong %+v, %v", pong, err)
	}
	if obs, _ := disco.ReadObserved(pong.Body); obs != f.a.addr {
		t.Fatalf("pong observed %s, want %s", obs, f.a.addr)
	}
	// A replayed ping (same timestamp) and a forged one change nothing.
	p := f.a.ping(t, f.relay.pub, f.now)
	f.r.Handle(p, f.a.addr, f.now)
	evil := netip.MustParseAddrPort("203.0.113.66:4444")
	expectDrop(t, "replayed ping from another address", f.r.Handle(p, evil, f.now), DropStale)
	forged := append([]byte(nil), p...)
	forged[len(forged)-1] ^= 1
	expectDrop(t, "ping with a broken HMAC", f.r.Handle(forged, evil, f.now), DropBadMAC)
	// Signed with a key that is not the pair's (a pretends, with its own key, to be b).
	bk, _ := disco.PairKey(f.a.priv, f.relay.pub)
	lie := (&disco.Message{Type: disco.TypePing, Sender: f.b.pub, Receiver: f.relay.pub, Timestamp: uint64(f.now.UnixMicro()) + 5}).Seal(bk)
	expectDrop(t, "ping claiming b, keyed by a", f.r.Handle(lie, evil, f.now), DropBadMAC)
	stranger := newNode(t, "203.0.113.7:1")
	expectDrop(t, "ping from a key the relay does not serve", f.r.Handle(stranger.ping(t, f.relay.pub, f.now), stranger.addr, f.now), DropUnknownNode)
	old := newNode(t, "198.18.0.1:51820")
	old.priv, old.pub = f.a.priv, f.a.pub
	expectDrop(t, "ping from 10 minutes ago", f.r.Handle(old.ping(t, f.relay.pub, f.now.Add(-10*time.Minute)), f.a.addr, f.now), DropStale)
	if got := f.r.Snapshot(f.now).Nodes; !hasAddress(got, f.a.addr.String()) {
		t.Fatalf("a's address must still be %s: %+v", f.a.addr, got)
	}
	// Roaming: a's next ping from a new address moves it; its old address is no longer a.
	f.learn(t, f.b)
	f.a.addr = netip.MustParseAddrPort("198.18.0.77:51820")
	f.learn(t, f.a)
	expectForward(t, "initiation from a's new address", f.r.Handle(initiation(1, f.b.pub), f.a.addr, f.now), f.b.addr)
	expectDrop(t, "initiation from a's old address", f.r.Handle(initiation(2, f.b.pub), netip.MustParseAddrPort("198.18.0.1:51820"), f.now), DropUnknownSource)
}

func hasAddress(nodes []NodeInfo, addr string) bool {
	for _, n := range nodes {
		if n.Address == addr {
			return true
		}
	}
	return false
}

func TestConfigureIsAllOrNothing(t *testing.T) {
	f := setupPairs(t, "ab")
	f.learn(t, f.a, f.b)
	expectForward(t, "initiation", f.r.Handle(initiation(1, f.b.pub), f.a.addr, f.now), f.b.addr)
	expectForward(t, "response", f.r.Handle(response(2, 1, f.a.pub), f.b.addr, f.now), f.a.addr)
	bad := [][2]Key{{f.a.pub, f.c.pub}, {f.b.pub, f.b.pub}}
	if err := f.r.Configure(Config{Pairs: &bad}); err == nil {
		t.Fatal("a pair naming one key twice must be refused")
	}
	own := [][2]Key{{f.a.pub, f.relay.pub}}
	if err := f.r.Configure(Config{Pairs: &own}); err == nil {
		t.Fatal("a pair with the relay's own key must be refused")
	}
	// Nothing changed: the session still flows, c is still unknown.
	expectForward(t, "data after refused configs", f.r.Handle(transport(2, 64), f.a.addr, f.now), f.b.addr)
	if got := f.r.Snapshot(f.now); got.Pairs != 1 || len(got.Nodes) != 2 {
		t.Fatalf("after refused configs: %d pairs, %d nodes", got.Pairs, len(got.Nodes))
	}
	// Adding a pair keeps the learned addresses and live sessions.
	more := [][2]Key{{f.a.pub, f.b.pub}, {f.a.pub, f.c.pub}}
	if err := f.r.Configure(Config{Pairs: &more}); err != nil {
		t.Fatal(err)
	}
	expectForward(t, "data after adding a pair", f.r.Handle(transport(2, 64), f.a.addr, f.now), f.b.addr)
	// Removing a pair ends its sessions at once.
	less := [][2]Key{{f.a.pub, f.c.pub}}
	if err := f.r.Configure(Config{Pairs: &less}); err != nil {
		t.Fatal(err)
	}
	expectDrop(t, "data after its pair was removed", f.r.Handle(transport(2, 64), f.a.addr, f.now), DropUnknownIndex)
	expectDrop(t, "b after its only pair was removed", f.r.Handle(transport(1, 64), f.b.addr, f.now), DropUnknownSource)
}

func TestNothingIsForwardedBeforeTheKeyIsSet(t *testing.T) {
	r := New()
	a, b := newNode(t, "198.18.0.1:1"), newNode(t, "198.18.0.2:1")
	pairs := [][2]Key{{a.pub, b.pub}}
	if err := r.Configure(Config{Pairs: &pairs}); err != nil {
		t.Fatal(err)
	}
	relayKey := newNode(t, "198.18.0.3:1")
	now := time.Now()
	expectDrop(t, "ping before the key is set", r.Handle(a.ping(t, relayKey.pub, now), a.addr, now), DropNoKey)
	expectDrop(t, "initiation before any ping", r.Handle(initiation(1, b.pub), a.addr, now), DropUnknownSource)
	if err := r.Configure(Config{PrivateKey: &relayKey.priv}); err != nil {
		t.Fatal(err)
	}
	if d := r.Handle(a.ping(t, relayKey.pub, now), a.addr, now); d.Action != Reply {
		t.Fatalf("ping after the key was set: %+v", d)
	}
}

func TestParseConfigRequest(t *testing.T) {
	good := `{"privateKey":"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpbXF1eX2A=","pairs":[["AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=","ZLEBsdC+WocEvQePmJUAH8A+jp+VIvGI3RKNmEbUhGY="]],"nodeTtlMs":30000}`
	cfg, err := ParseConfigRequest([]byte(good))
	if err != nil || cfg.PrivateKey == nil || cfg.Pairs == nil || len(*cfg.Pairs) != 1 || cfg.NodeTTL != 30*time.Second {
		t.Fatalf("%+v, %v", cfg, err)
	}
	mesh, err := ParseConfigRequest([]byte(`{"mesh":["AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=","ZLEBsdC+WocEvQePmJUAH8A+jp+VIvGI3RKNmEbUhGY="]}`))
	if err != nil || mesh.Mesh == nil || len(*mesh.Mesh) != 2 || mesh.Pairs != nil {
		t.Fatalf("mesh: %+v, %v", mesh, err)
	}
	for _, bad := range []string{
		`{"privateKey":"short"}`,
		`{"pairs":[["AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="]]}`,
		`{"pairs":[["AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=","x","y"]]}`,
		`{"nodeTtlMs":5}`,
		`{"mesh":["AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=","AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="]}`,
		`{"mesh":["nope"]}`,
		`{"mesh":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="}`,
		`{"privatekey":"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpbXF1eX2A="}`,
		`[]`,
	} {
		if _, err := ParseConfigRequest([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestTheMeshServesEveryPairOfItsNodesBesideListedPairs(t *testing.T) {
	f := setup(t)
	d := newNode(t, "198.18.0.4:51820")
	// Mesh a, b, c; d only with a, as a listed pair. Setting the mesh keeps the pairs set before.
	pairs := [][2]Key{{f.a.pub, d.pub}}
	if err := f.r.Configure(Config{Pairs: &pairs}); err != nil {
		t.Fatal(err)
	}
	mesh := []Key{f.a.pub, f.b.pub, f.c.pub}
	if err := f.r.Configure(Config{Mesh: &mesh}); err != nil {
		t.Fatal(err)
	}
	f.learn(t, f.a, f.b, f.c, d)
	expectForward(t, "initiation b→c (mesh)", f.r.Handle(initiation(1, f.c.pub), f.b.addr, f.now), f.c.addr)
	expectForward(t, "initiation c→a (mesh)", f.r.Handle(initiation(2, f.a.pub), f.c.addr, f.now), f.a.addr)
	expectForward(t, "initiation d→a (pair)", f.r.Handle(initiation(3, f.a.pub), d.addr, f.now), f.a.addr)
	expectDrop(t, "initiation d→b (neither)", f.r.Handle(initiation(4, f.b.pub), d.addr, f.now), DropNotAllowed)
	// A whole session through the mesh, by index.
	expectForward(t, "response c→b", f.r.Handle(response(10, 1, f.b.pub), f.c.addr, f.now), f.b.addr)
	expectForward(t, "transport b→c", f.r.Handle(transport(10, 64), f.b.addr, f.now), f.c.addr)
	if info := f.r.Snapshot(f.now); info.Pairs != 4 || info.MeshNodes != 3 {
		t.Fatalf("pairs %d, mesh nodes %d; want 3 mesh pairs and 1 listed, 3 mesh nodes", info.Pairs, info.MeshNodes)
	}
	// Leaving the mesh ends the node's sessions; a mesh with the relay's own key is refused whole.
	bad := []Key{f.a.pub, f.relay.pub}
	if err := f.r.Configure(Config{Mesh: &bad}); err == nil {
		t.Fatal("a mesh with the relay's own key was accepted")
	}
	expectForward(t, "transport b→c still", f.r.Handle(transport(10, 64), f.b.addr, f.now), f.c.addr)
	mesh = []Key{f.a.pub, f.b.pub}
	if err := f.r.Configure(Config{Mesh: &mesh}); err != nil {
		t.Fatal(err)
	}
	expectDrop(t, "transport b→c after c left", f.r.Handle(transport(10, 64), f.b.addr, f.now), DropUnknownIndex)
	expectForward(t, "initiation d→a (pair kept)", f.r.Handle(initiation(5, f.a.pub), d.addr, f.now), f.a.addr)
}
