// Package demand tells the agent which watched overlay addresses the device carries traffic for,
// so it can configure a remote spoke as an on-demand WireGuard peer (docs/hub-end-to-end.md). A
// TUN wrapper sees every packet between the kernel and wireguard-go: outbound packets (TUN reads)
// by destination, inbound ones (TUN writes) by source. Packets always pass unchanged; reports are
// rate-limited per address and direction, and never block the data path.
package demand

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/tun"
)

// Direction says which way a watched address's packet went.
type Direction uint8

const (
	// Outbound: a packet read from the TUN (the host sends), to the watched address.
	Outbound Direction = 1
	// Inbound: a packet written to the TUN (the host receives), from the watched address.
	Inbound Direction = 2
)

// DefaultInterval is how often at most one address and direction is reported.
const DefaultInterval = time.Second

// MaxAddresses bounds a watch set (a spoke watches every remote spoke of its map).
const MaxAddresses = 65536

// Sink receives a report; it must not block (the control socket queues it).
type Sink func(dir Direction, addr netip.Addr)

type watchSet struct {
	addrs    map[netip.Addr]struct{}
	interval int64 // nanoseconds
}

type key struct {
	addr netip.Addr
	dir  Direction
}

// Watch is the set of watched addresses and the rate limiter of their reports.
type Watch struct {
	set  atomic.Pointer[watchSet]
	sink atomic.Pointer[Sink]
	now  func() int64

	mu   sync.Mutex
	last map[key]int64

	Reported, Suppressed atomic.Uint64
}

// NewWatch returns an empty watch (nothing is reported until Set).
func NewWatch() *Watch {
	return &Watch{now: func() int64 { return time.Now().UnixNano() }, last: map[key]int64{}}
}

// SetSink attaches where reports go.
func (w *Watch) SetSink(s Sink) { w.sink.Store(&s) }

// Set replaces the watched addresses and the interval; an empty list stops watching. Reports of
// addresses no longer watched are forgotten, so a re-added address is reported at once.
func (w *Watch) Set(addrs []netip.Addr, interval time.Duration) {
	if len(addrs) == 0 {
		w.set.Store(nil)
	} else {
		m := make(map[netip.Addr]struct{}, len(addrs))
		for _, a := range addrs {
			m[a.Unmap()] = struct{}{}
		}
		w.set.Store(&watchSet{addrs: m, interval: int64(interval)})
	}
	w.mu.Lock()
	cur := w.set.Load()
	for k := range w.last {
		if cur == nil {
			delete(w.last, k)
		} else if _, ok := cur.addrs[k.addr]; !ok {
			delete(w.last, k)
		}
	}
	w.mu.Unlock()
}

// Len is how many addresses are watched.
func (w *Watch) Len() int {
	if s := w.set.Load(); s != nil {
		return len(s.addrs)
	}
	return 0
}

// See checks one IP packet: its destination (Outbound) or source (Inbound).
func (w *Watch) See(dir Direction, pkt []byte) {
	s := w.set.Load()
	if s == nil {
		return
	}
	addr, ok := packetAddr(dir, pkt)
	if !ok {
		return
	}
	if _, watched := s.addrs[addr]; !watched {
		return
	}
	now := w.now()
	k := key{addr, dir}
	w.mu.Lock()
	if t, seen := w.last[k]; seen && now-t < s.interval {
		w.mu.Unlock()
		w.Suppressed.Add(1)
		return
	}
	w.last[k] = now
	w.mu.Unlock()
	w.Reported.Add(1)
	if sink := w.sink.Load(); sink != nil {
		(*sink)(dir, addr)
	}
}

// packetAddr reads an IPv4 or IPv6 packet's destination (Outbound) or source (Inbound).
func packetAddr(dir Direction, pkt []byte) (netip.Addr, bool) {
	if len(pkt) < 1 {
		return netip.Addr{}, false
	}
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < 20 {
			return netip.Addr{}, false
		}
		if dir == Outbound {
			return netip.AddrFrom4([4]byte(pkt[16:20])), true
		}
		return netip.AddrFrom4([4]byte(pkt[12:16])), true
	case 6:
		if len(pkt) < 40 {
			return netip.Addr{}, false
		}
		if dir == Outbound {
			return netip.AddrFrom16([16]byte(pkt[24:40])), true
		}
		return netip.AddrFrom16([16]byte(pkt[8:24])), true
	}
	return netip.Addr{}, false
}

// TUN wraps the device's TUN: packets pass unchanged, watched addresses are reported.
type TUN struct {
	tun.Device
	w *Watch
}

// Wrap returns the TUN wireguard-go should use.
func Wrap(dev tun.Device, w *Watch) *TUN { return &TUN{Device: dev, w: w} }

// Read reads packets the host sends and reports watched destinations.
func (t *TUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n, err := t.Device.Read(bufs, sizes, offset)
	if t.w.set.Load() != nil {
		for i := 0; i < n; i++ {
			if offset+sizes[i] <= len(bufs[i]) {
				t.w.See(Outbound, bufs[i][offset:offset+sizes[i]])
			}
		}
	}
	return n, err
}

// Write writes packets the host receives and reports watched sources.
func (t *TUN) Write(bufs [][]byte, offset int) (int, error) {
	if t.w.set.Load() != nil {
		for _, b := range bufs {
			if offset < len(b) {
				t.w.See(Inbound, b[offset:])
			}
		}
	}
	return t.Device.Write(bufs, offset)
}
