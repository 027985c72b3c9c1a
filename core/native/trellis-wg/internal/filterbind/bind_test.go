package filterbind

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"

	"trellis-wg/internal/datagram"
)

type collected struct {
	mu sync.Mutex
	ds []*Datagram
}

func (c *collected) sink(d *Datagram) {
	c.mu.Lock()
	c.ds = append(c.ds, d)
	c.mu.Unlock()
}

func stun() []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b[0:2], 0x0001)
	binary.BigEndian.PutUint32(b[4:8], datagram.STUNMagicCookie)
	copy(b[8:20], "0123456789ab")
	return b
}

func openLoopback(t *testing.T, c *collected) (*Bind, []conn.ReceiveFunc, uint16) {
	t.Helper()
	var ports []uint16
	b := New(c.sink, func(p uint16) { ports = append(ports, p) })
	fns, port, err := b.Open(0)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if port == 0 || b.Port() != port || len(ports) != 1 || ports[0] != port {
		t.Fatalf("port %d, Port() %d, onPort calls %v", port, b.Port(), ports)
	}
	t.Cleanup(func() { b.Close() })
	return b, fns, port
}

func client(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// receiveAll calls the IPv4 receive function until want datagrams (of any size) were seen.
func receiveAll(t *testing.T, fn conn.ReceiveFunc, batch int, want int) (bufs [][]byte, sizes []int) {
	t.Helper()
	for seen := 0; seen < want; {
		b := make([][]byte, batch)
		for i := range b {
			b[i] = make([]byte, 2048)
		}
		s := make([]int, batch)
		eps := make([]conn.Endpoint, batch)
		n, err := fn(b, s, eps)
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		for i := 0; i < n; i++ {
			bufs = append(bufs, b[i])
			sizes = append(sizes, s[i])
		}
		seen += n
	}
	return bufs, sizes
}

func TestReceiveTakesOutSTUNAndDiscoOnly(t *testing.T) {
	var got collected
	b, fns, port := openLoopback(t, &got)
	c := client(t)
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)}
	wg := make([]byte, 148)
	wg[0] = 1
	copy(wg[4:], "initiation")
	disco := append([]byte("TRLD\x01\x01"), make([]byte, 100)...)
	junk := []byte("hello, not for anyone")
	for _, p := range [][]byte{wg, stun(), disco, junk} {
		if _, err := c.WriteToUDP(p, dst); err != nil {
			t.Fatal(err)
		}
	}
	bufs, sizes := receiveAll(t, fns[0], b.BatchSize(), 4)
	var left [][]byte
	for i := range sizes {
		if sizes[i] > 0 {
			left = append(left, bufs[i][:sizes[i]])
		}
	}
	if len(left) != 2 || string(left[0]) != string(wg) || string(left[1]) != string(junk) {
		t.Fatalf("the device must still get the WireGuard message and the junk, byte for byte; got %q", left)
	}
	got.mu.Lock()
	defer got.mu.Unlock()
	if len(got.ds) != 2 || got.ds[0].Kind != datagram.STUN || got.ds[1].Kind != datagram.Disco {
		t.Fatalf("sink got %d datagrams, want STUN then disco", len(got.ds))
	}
	from := c.LocalAddr().(*net.UDPAddr).AddrPort()
	for _, d := range got.ds {
		if d.From != netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) {
			t.Errorf("%s from %s, want %s", d.Kind, d.From, from)
		}
		// The local address is there when the kernel's PKTINFO survives the standard bind's read:
		// with UDP GRO on, its split of coalesced reads leaves it out (so does upstream's sticky
		// source), hence "invalid" is allowed, a wrong address is not.
		if (d.Local.IsValid() && d.Local != netip.MustParseAddr("127.0.0.1")) || d.LocalPort != port {
			t.Errorf("%s arrived at %s port %d, want 127.0.0.1 port %d", d.Kind, d.Local, d.LocalPort, port)
		}
	}
	if string(got.ds[1].Payload) != string(disco) {
		t.Error("disco payload changed on the way")
	}
	if k := b.Counters(); k.STUN != 1 || k.Disco != 1 {
		t.Errorf("counters %+v, want one STUN and one disco", k)
	}
}

func TestSendToFromChosenSourceAddress(t *testing.T) {
	var got collected
	b, _, port := openLoopback(t, &got)
	c := client(t)
	to := c.LocalAddr().(*net.UDPAddr).AddrPort()
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	// 127.0.0.2 is local too (all of 127/8 is): the datagram must come from it, not 127.0.0.1.
	if err := b.SendTo(to, netip.MustParseAddr("127.0.0.2"), []byte("TRLD\x01ping")); err != nil {
		t.Fatalf("SendTo: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 100)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:n]) != "TRLD\x01ping" || from.Addr().Unmap() != netip.MustParseAddr("127.0.0.2") || from.Port() != port {
		t.Fatalf("got %q from %s, want it from 127.0.0.2:%d", buf[:n], from, port)
	}
	// Without a source, routing chooses (127.0.0.1 towards 127.0.0.1).
	if err := b.SendTo(to, netip.Addr{}, []byte("TRLD\x01ping")); err != nil {
		t.Fatal(err)
	}
	n, from, err = c.ReadFromUDPAddrPort(buf)
	if err != nil || from.Addr().Unmap() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("got %q from %s (%v)", buf[:n], from, err)
	}
	// A source address this host does not have is the kernel's error, not a silent send.
	if err := b.SendTo(to, netip.MustParseAddr("192.0.2.1"), []byte("TRLD\x01ping")); err == nil {
		t.Fatal("sending from 192.0.2.1 (not on this host) must fail")
	}
	if err := b.SendTo(to, netip.MustParseAddr("::1"), []byte("x")); err == nil {
		t.Fatal("an IPv6 source towards an IPv4 destination must be refused")
	}
}

func TestSetSourceReadsBack(t *testing.T) {
	b := New(func(*Datagram) {}, nil)
	for _, a := range []string{"198.18.0.7", "2001:db8::7"} {
		ep, err := b.ParseEndpoint("[2001:db8::1]:51820")
		if netip.MustParseAddr(a).Is4() {
			ep, err = b.ParseEndpoint("198.18.0.1:51820")
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := SetSource(ep, netip.MustParseAddr(a)); err != nil {
			t.Fatalf("SetSource(%s): %v", a, err)
		}
		if ep.SrcIP() != netip.MustParseAddr(a) {
			t.Fatalf("SrcIP() = %s, want %s", ep.SrcIP(), a)
		}
		ep.ClearSrc()
		if ep.SrcIP().IsValid() {
			t.Fatal("ClearSrc must clear what SetSource set")
		}
	}
}

func TestSendRetriesWithoutAStaleSource(t *testing.T) {
	var got collected
	b, _, _ := openLoopback(t, &got)
	c := client(t)
	ep, err := b.ParseEndpoint(c.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	// A remembered source the host no longer has: the first send fails, the retry goes out.
	if err := SetSource(ep, netip.MustParseAddr("192.0.2.9")); err != nil {
		t.Fatal(err)
	}
	wg := make([]byte, 32)
	wg[0] = 4
	if err := b.Send([][]byte{wg}, ep); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if ep.SrcIP().IsValid() {
		t.Error("the stale source must be cleared")
	}
	if b.Counters().SourceRetries != 1 {
		t.Errorf("SourceRetries = %d, want 1", b.Counters().SourceRetries)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64)
	if n, _, err := c.ReadFromUDP(buf); err != nil || n != 32 {
		t.Fatalf("the retried datagram did not arrive: %d bytes, %v", n, err)
	}
}

func TestSendToWhileClosed(t *testing.T) {
	var got collected
	b, _, _ := openLoopback(t, &got)
	b.Close()
	err := b.SendTo(netip.MustParseAddrPort("127.0.0.1:9"), netip.Addr{}, []byte("x"))
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("SendTo on a closed bind: %v, want ErrClosed", err)
	}
}
