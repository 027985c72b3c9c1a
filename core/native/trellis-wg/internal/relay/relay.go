// Package relay forwards WireGuard datagrams between pairs of nodes that cannot (or should not)
// reach each other directly, without holding any of their keys (PROTOCOL.md, "Relay"):
//   - a handshake initiation goes to the node whose public key produced its MAC1;
//   - a response, cookie reply or transport message goes by its receiver index, which the relay
//     learned from the handshake it forwarded;
//   - a node's address at the relay is learned only from its authenticated disco pings;
//   - only pairs on the allow-list (set by the relay node's agent) are served.
//
// Relay is the decision and its tables; Server moves the datagrams.
package relay

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

	"trellis-wg/internal/datagram"
	"trellis-wg/internal/disco"
)

// Key is a WireGuard (X25519) public or private key.
type Key = disco.Key

// Timings. WireGuard retries an unanswered initiation after 5 s with a fresh sender index, and a
// session's keys are rejected 180 s after they were made, so an index unused for 180 s is dead.
const (
	PendingTTL     = 15 * time.Second
	SessionTTL     = 180 * time.Second
	DefaultNodeTTL = 60 * time.Second
	// MaxClockSkew bounds how far a ping's timestamp may be from the relay's clock.
	MaxClockSkew = 120 * time.Second
	// MaxRoutes bounds the index table; new handshakes are dropped when it is full.
	MaxRoutes = 1 << 16
)

// Drop reasons, counted.
type DropReason int

const (
	DropMalformed          DropReason = iota // not WireGuard or disco, or the wrong size
	DropUnknownSource                        // from an address no live node pinged from
	DropSenderMismatch                       // a disco message whose sender is not the node at its source address
	DropNotAllowed                           // the pair is not on the allow-list
	DropUnknownDestination                   // no served node has the destination key (MAC1 or disco receiver)
	DropNoAddress                            // the destination has not pinged the relay (or its address expired)
	DropUnknownIndex                         // a receiver index the relay did not learn (or that expired)
	DropBadMAC                               // a disco ping whose HMAC, or a response whose MAC1, does not verify
	DropStale                                // a ping that is not newer than the last one, or too far from the relay's clock
	DropUnknownNode                          // a ping from a key the relay does not serve
	DropUnexpectedType                       // a disco message for the relay that is not a ping
	DropNoKey                                // a disco message before the relay's private key was set
	DropTableFull                            // a handshake while the index table is full
	numDropReasons
)

var dropNames = [numDropReasons]string{
	"malformed", "unknownSource", "senderMismatch", "notAllowed", "unknownDestination", "noAddress",
	"unknownIndex", "badMac", "stale", "unknownNode", "unexpectedType", "noKey", "tableFull",
}

func (d DropReason) String() string { return dropNames[d] }

// Action is what to do with one datagram.
type Action uint8

const (
	Drop Action = iota
	// Forward the datagram, unchanged, to To.
	Forward
	// Reply sends Reply back to the datagram's source (a pong).
	Reply
)

// Decision is Handle's answer.
type Decision struct {
	Action Action
	To     netip.AddrPort
	Reply  []byte
	Reason DropReason
}

type node struct {
	key      Key
	mac1     [32]byte
	disco    Key
	hasDisco bool
	addr     netip.AddrPort
	seen     time.Time
	lastTS   uint64
	partners []*node
	// mesh: the node may use the relay with every other mesh node (Config.Mesh).
	mesh bool
}

type indexKey struct {
	index uint32
	from  *node
}

// route says where messages from `from` carrying receiver index `index` go.
type route struct {
	to      *node
	expires time.Time
}

type pairKey [64]byte

func pairOf(a, b Key) pairKey {
	var p pairKey
	if bytes.Compare(a[:], b[:]) > 0 {
		a, b = b, a
	}
	copy(p[:32], a[:])
	copy(p[32:], b[:])
	return p
}

// Config changes the relay; a nil field keeps what is set.
type Config struct {
	PrivateKey *Key
	// Pairs is the allow-list: the relay forwards only between the two keys of a pair.
	Pairs *[][2]Key
	// Mesh is the relay's mesh: every pair of these keys may use the relay, without listing the
	// pairs (a relay serving n nodes would otherwise hold n(n-1)/2 of them).
	Mesh    *[]Key
	NodeTTL time.Duration
}

// Counters are the relay's figures.
type Counters struct {
	ForwardedPackets uint64            `json:"forwardedPackets"`
	ForwardedBytes   uint64            `json:"forwardedBytes"`
	PingsAccepted    uint64            `json:"pingsAccepted"`
	Drops            map[string]uint64 `json:"drops"`
}

// NodeInfo describes one served node.
type NodeInfo struct {
	PublicKey string `json:"publicKey"`
	// Address is where the node's last accepted ping came from; empty when none or expired.
	Address string `json:"address"`
	// LastPingMsAgo is how long ago that was, -1 when never.
	LastPingMsAgo int64 `json:"lastPingMsAgo"`
}

// Info is a snapshot for the control socket.
type Info struct {
	PublicKey string `json:"publicKey"`
	// Pairs is how many node pairs the relay may serve: listed pairs and the mesh's.
	Pairs     int        `json:"pairs"`
	MeshNodes int        `json:"meshNodes"`
	Routes    int        `json:"routes"`
	NodeTTLMs int64      `json:"nodeTtlMs"`
	Nodes     []NodeInfo `json:"nodes"`
	Counters  Counters   `json:"counters"`
}

// Relay holds the allow-list, the nodes' addresses and the index table.
type Relay struct {
	mu      sync.Mutex
	priv    Key
	pub     Key
	hasKey  bool
	nodes   map[Key]*node
	byAddr  map[netip.AddrPort]*node
	allowed map[pairKey]struct{}
	// pairs and mesh are the allow-list as configured (a config that sets one keeps the other).
	pairs   [][2]Key
	mesh    []Key
	routes  map[indexKey]*route
	nodeTTL time.Duration

	forwarded, forwardedBytes, pings uint64
	drops                            [numDropReasons]uint64
}

// New is a relay with no key and an empty allow-list: it forwards nothing until configured.
func New() *Relay {
	return &Relay{
		nodes:   map[Key]*node{},
		byAddr:  map[netip.AddrPort]*node{},
		allowed: map[pairKey]struct{}{},
		routes:  map[indexKey]*route{},
		nodeTTL: DefaultNodeTTL,
	}
}

func b64(k Key) string { return base64.StdEncoding.EncodeToString(k[:]) }

// Configure applies c as a whole or not at all: on error nothing changes.
func (r *Relay) Configure(c Config) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	priv, pub, hasKey := r.priv, r.pub, r.hasKey
	if c.PrivateKey != nil {
		priv = *c.PrivateKey
		// Clamp as X25519 does, so the public key is the one WireGuard shows for this private key.
		priv[0] &= 248
		priv[31] = (priv[31] & 127) | 64
		pub = disco.PublicKey(priv)
		hasKey = true
	}
	if c.NodeTTL < 0 {
		return errors.New("nodeTtlMs must be positive")
	}
	nodes := r.nodes
	allowed := r.allowed
	pairs, mesh := r.pairs, r.mesh
	if c.Pairs != nil {
		pairs = *c.Pairs
	}
	if c.Mesh != nil {
		mesh = *c.Mesh
	}
	if c.Pairs != nil || c.Mesh != nil {
		nodes = map[Key]*node{}
		allowed = map[pairKey]struct{}{}
		get := func(k Key) *node {
			if n := nodes[k]; n != nil {
				return n
			}
			n := r.nodes[k]
			if n == nil {
				n = &node{key: k, mac1: mac1Key(k)}
			} else {
				// Reused for its learned address; partners are rebuilt below.
				cp := *n
				cp.partners = nil
				cp.mesh = false
				n = &cp
			}
			nodes[k] = n
			return n
		}
		for i, k := range mesh {
			if hasKey && k == pub {
				return fmt.Errorf("mesh[%d] is the relay's own key %s; a relay does not relay its own traffic", i, b64(pub))
			}
			get(k).mesh = true
		}
		for i, p := range pairs {
			if p[0] == p[1] {
				return fmt.Errorf("pair %d names the same key twice (%s)", i, b64(p[0]))
			}
			if hasKey && (p[0] == pub || p[1] == pub) {
				return fmt.Errorf("pair %d includes the relay's own key %s; a relay does not relay its own traffic", i, b64(pub))
			}
			pk := pairOf(p[0], p[1])
			if _, dup := allowed[pk]; dup {
				continue
			}
			allowed[pk] = struct{}{}
			a, b := get(p[0]), get(p[1])
			a.partners = append(a.partners, b)
			b.partners = append(b.partners, a)
		}
	} else if c.PrivateKey != nil {
		// Same nodes, new relay key: copy them so a failure below leaves the old ones whole.
		nodes = make(map[Key]*node, len(r.nodes))
		for k, n := range r.nodes {
			cp := *n
			cp.partners = append([]*node(nil), n.partners...)
			nodes[k] = &cp
		}
		for _, n := range nodes {
			for i, p := range n.partners {
				n.partners[i] = nodes[p.key]
			}
		}
		for _, n := range nodes {
			if n.key == pub {
				return fmt.Errorf("the new private key is that of served node %s; a relay does not relay its own traffic", b64(pub))
			}
		}
	}
	if hasKey && (c.PrivateKey != nil || c.Pairs != nil || c.Mesh != nil) {
		for _, n := range nodes {
			if n.hasDisco && c.PrivateKey == nil {
				continue
			}
			k, err := disco.PairKey(priv, n.key)
			if err != nil {
				return fmt.Errorf("node key %s: %v", b64(n.key), err)
			}
			n.disco, n.hasDisco = k, true
		}
	}
	// Commit. Node objects were copied, so the index table and address map are rebuilt on them.
	old := r.nodes
	r.priv, r.pub, r.hasKey = priv, pub, hasKey
	r.nodes, r.allowed = nodes, allowed
	r.pairs, r.mesh = pairs, mesh
	if c.NodeTTL > 0 {
		r.nodeTTL = c.NodeTTL
	}
	if c.Pairs != nil || c.Mesh != nil || c.PrivateKey != nil {
		byAddr := make(map[netip.AddrPort]*node, len(r.byAddr))
		for _, n := range nodes {
			if n.addr.IsValid() {
				byAddr[n.addr] = n
			}
		}
		r.byAddr = byAddr
		routes := make(map[indexKey]*route, len(r.routes))
		for k, rt := range r.routes {
			from, to := nodes[k.from.key], nodes[rt.to.key]
			if from == nil || to == nil || old[k.from.key] != k.from {
				continue
			}
			if !isAllowed(allowed, from, to) {
				continue
			}
			routes[indexKey{k.index, from}] = &route{to: to, expires: rt.expires}
		}
		r.routes = routes
	}
	return nil
}

func (r *Relay) live(n *node, now time.Time) bool {
	return n.addr.IsValid() && now.Sub(n.seen) <= r.nodeTTL
}

func (r *Relay) drop(why DropReason) Decision {
	r.drops[why]++
	return Decision{Action: Drop, Reason: why}
}

func (r *Relay) forward(to *node, size int) Decision {
	r.forwarded++
	r.forwardedBytes += uint64(size)
	return Decision{Action: Forward, To: to.addr}
}

// Handle decides one datagram that arrived from src.
func (r *Relay) Handle(pkt []byte, src netip.AddrPort, now time.Time) Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.handle(pkt, src, now)
}

// Incoming is one received datagram for HandleBatch.
type Incoming struct {
	Packet []byte
	From   netip.AddrPort
}

// HandleBatch decides a batch under one lock.
func (r *Relay) HandleBatch(in []Incoming, out []Decision, now time.Time) {
	r.mu.Lock()
	for i := range in {
		out[i] = r.handle(in[i].Packet, in[i].From, now)
	}
	r.mu.Unlock()
}

func (r *Relay) handle(p []byte, src netip.AddrPort, now time.Time) Decision {
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	if datagram.IsWireGuard(p) {
		return r.handleWireGuard(p, src, now)
	}
	if datagram.IsDisco(p) {
		return r.handleDisco(p, src, now)
	}
	return r.drop(DropMalformed)
}

func (r *Relay) lookup(index uint32, from *node, now time.Time) (*route, bool) {
	rt := r.routes[indexKey{index, from}]
	if rt == nil {
		return nil, false
	}
	if now.After(rt.expires) {
		delete(r.routes, indexKey{index, from})
		return nil, false
	}
	return rt, true
}

func (r *Relay) handleWireGuard(p []byte, src netip.AddrPort, now time.Time) Decision {
	from := r.byAddr[src]
	if from == nil || !r.live(from, now) {
		return r.drop(DropUnknownSource)
	}
	switch p[0] {
	case msgInitiation:
		if len(p) != initiationSize {
			return r.drop(DropMalformed)
		}
		var to *node
		for _, d := range from.partners {
			if mac1Matches(&d.mac1, p, initiationMAC1At) {
				to = d
				break
			}
		}
		if to == nil {
			for _, d := range r.nodes {
				if d != from && mac1Matches(&d.mac1, p, initiationMAC1At) {
					if !isAllowed(r.allowed, from, d) {
						return r.drop(DropNotAllowed)
					}
					to = d
					break
				}
			}
		}
		if to == nil {
			return r.drop(DropUnknownDestination)
		}
		if !r.live(to, now) {
			return r.drop(DropNoAddress)
		}
		if len(r.routes) >= MaxRoutes {
			return r.drop(DropTableFull)
		}
		sender := binary.LittleEndian.Uint32(p[4:8])
		r.routes[indexKey{sender, to}] = &route{to: from, expires: now.Add(PendingTTL)}
		return r.forward(to, len(p))
	case msgResponse:
		if len(p) != responseSize {
			return r.drop(DropMalformed)
		}
		rt, ok := r.lookup(binary.LittleEndian.Uint32(p[8:12]), from, now)
		if !ok {
			return r.drop(DropUnknownIndex)
		}
		to := rt.to
		if !mac1Matches(&to.mac1, p, responseMAC1At) {
			return r.drop(DropBadMAC)
		}
		if !r.live(to, now) {
			return r.drop(DropNoAddress)
		}
		if len(r.routes) >= MaxRoutes {
			return r.drop(DropTableFull)
		}
		rt.expires = now.Add(SessionTTL)
		r.routes[indexKey{binary.LittleEndian.Uint32(p[4:8]), to}] = &route{to: from, expires: now.Add(SessionTTL)}
		return r.forward(to, len(p))
	case msgCookie, msgTransport:
		if (p[0] == msgCookie && len(p) != cookieReplySize) || (p[0] == msgTransport && len(p) < transportMinSize) {
			return r.drop(DropMalformed)
		}
		rt, ok := r.lookup(binary.LittleEndian.Uint32(p[4:8]), from, now)
		if !ok {
			return r.drop(DropUnknownIndex)
		}
		if !r.live(rt.to, now) {
			return r.drop(DropNoAddress)
		}
		if p[0] == msgTransport {
			rt.expires = now.Add(SessionTTL)
		}
		return r.forward(rt.to, len(p))
	}
	return r.drop(DropMalformed)
}

func (r *Relay) handleDisco(p []byte, src netip.AddrPort, now time.Time) Decision {
	h, err := disco.ParseHeader(p)
	if err != nil {
		return r.drop(DropMalformed)
	}
	if !r.hasKey {
		return r.drop(DropNoKey)
	}
	if h.Receiver == r.pub {
		if h.Type != disco.TypePing {
			return r.drop(DropUnexpectedType)
		}
		n := r.nodes[h.Sender]
		if n == nil || !n.hasDisco {
			return r.drop(DropUnknownNode)
		}
		m, err := disco.Open(p, n.disco)
		if err != nil {
			return r.drop(DropBadMAC)
		}
		nowUs := uint64(now.UnixMicro())
		skew := time.Duration(0)
		if m.Timestamp > nowUs {
			skew = time.Duration(m.Timestamp-nowUs) * time.Microsecond
		} else {
			skew = time.Duration(nowUs-m.Timestamp) * time.Microsecond
		}
		if m.Timestamp <= n.lastTS || skew > MaxClockSkew {
			return r.drop(DropStale)
		}
		n.lastTS = m.Timestamp
		r.learn(n, src, now)
		r.pings++
		pong := (&disco.Message{
			Type: disco.TypePong, Sender: r.pub, Receiver: n.key, TxID: m.TxID,
			Timestamp: nowUs, Body: disco.AppendObserved(nil, src),
		}).Seal(n.disco)
		return Decision{Action: Reply, To: src, Reply: pong}
	}
	from := r.byAddr[src]
	if from == nil || !r.live(from, now) {
		return r.drop(DropUnknownSource)
	}
	if from.key != h.Sender {
		return r.drop(DropSenderMismatch)
	}
	to := r.nodes[h.Receiver]
	if to == nil {
		return r.drop(DropUnknownDestination)
	}
	if !isAllowed(r.allowed, from, to) {
		return r.drop(DropNotAllowed)
	}
	if !r.live(to, now) {
		return r.drop(DropNoAddress)
	}
	return r.forward(to, len(p))
}

// isAllowed says whether the relay may forward between a and b: both in its mesh, or a listed pair.
func isAllowed(allowed map[pairKey]struct{}, a, b *node) bool {
	if a.mesh && b.mesh {
		return true
	}
	_, ok := allowed[pairOf(a.key, b.key)]
	return ok
}

// learn records where n's authenticated ping came from. Another node last seen at the same
// address (a NAT reusing a mapping) loses it.
func (r *Relay) learn(n *node, src netip.AddrPort, now time.Time) {
	if n.addr != src {
		if n.addr.IsValid() && r.byAddr[n.addr] == n {
			delete(r.byAddr, n.addr)
		}
		if other := r.byAddr[src]; other != nil && other != n {
			other.addr = netip.AddrPort{}
		}
		r.byAddr[src] = n
		n.addr = src
	}
	n.seen = now
}

// Sweep forgets expired routes and node addresses.
func (r *Relay) Sweep(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, rt := range r.routes {
		if now.After(rt.expires) {
			delete(r.routes, k)
		}
	}
	for a, n := range r.byAddr {
		if !r.live(n, now) {
			delete(r.byAddr, a)
			n.addr = netip.AddrPort{}
		}
	}
}

// Snapshot reads the relay's state for the control socket.
func (r *Relay) Snapshot(now time.Time) Info {
	r.mu.Lock()
	defer r.mu.Unlock()
	meshPairs := 0
	for _, n := range r.nodes {
		if n.mesh {
			meshPairs++
		}
	}
	pairs := len(r.allowed) + meshPairs*(meshPairs-1)/2
	for pk := range r.allowed {
		a, b := r.nodes[Key(pk[:32])], r.nodes[Key(pk[32:])]
		if a != nil && b != nil && a.mesh && b.mesh {
			pairs-- // listed and in the mesh: counted once
		}
	}
	info := Info{Pairs: pairs, MeshNodes: meshPairs, Routes: len(r.routes), NodeTTLMs: r.nodeTTL.Milliseconds(), Nodes: []NodeInfo{}}
	if r.hasKey {
		info.PublicKey = b64(r.pub)
	}
	for _, n := range r.nodes {
		ni := NodeInfo{PublicKey: b64(n.key), LastPingMsAgo: -1}
		if r.live(n, now) {
			ni.Address = n.addr.String()
		}
		if !n.seen.IsZero() {
			ni.LastPingMsAgo = now.Sub(n.seen).Milliseconds()
		}
		info.Nodes = append(info.Nodes, ni)
	}
	sort.Slice(info.Nodes, func(i, j int) bool { return info.Nodes[i].PublicKey < info.Nodes[j].PublicKey })
	info.Counters = Counters{ForwardedPackets: r.forwarded, ForwardedBytes: r.forwardedBytes, PingsAccepted: r.pings, Drops: map[string]uint64{}}
	for i, v := range r.drops {
		info.Counters.Drops[dropNames[i]] = v
	}
	return info
}
