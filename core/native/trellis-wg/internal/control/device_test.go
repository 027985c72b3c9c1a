package control

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"trellis-wg/internal/datagram"
	"trellis-wg/internal/demand"
	"trellis-wg/internal/filterbind"
)

type sent struct {
	to      netip.AddrPort
	from    netip.Addr
	payload []byte
}

type fakeSender struct {
	mu   sync.Mutex
	sent []sent
	err  error
	port uint16
}

func (f *fakeSender) SendTo(to netip.AddrPort, from netip.Addr, payload []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.sent = append(f.sent, sent{to, from, append([]byte(nil), payload...)})
	return nil
}
func (f *fakeSender) Port() uint16                  { return f.port }
func (f *fakeSender) Counters() filterbind.Counters { return filterbind.Counters{STUN: 3} }

type testClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, path string) *testClient {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &testClient{t: t, conn: c, r: bufio.NewReader(c)}
}

func (c *testClient) next() []byte {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	f, err := ReadFrame(c.r)
	if err != nil {
		c.t.Fatalf("reading a frame: %v", err)
	}
	return f
}

func (c *testClient) write(body []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(Frame(body)); err != nil {
		c.t.Fatal(err)
	}
}

func sendRequest(id uint32, to netip.AddrPort, from netip.Addr, payload []byte) []byte {
	b := []byte{TypeSend}
	b = binary.BigEndian.AppendUint32(b, id)
	b = AppendEndpoint(b, to)
	b = AppendIP(b, from)
	return append(b, payload...)
}

func result(t *testing.T, f []byte) (uint32, uint8, string) {
	t.Helper()
	if f[0] != TypeResult || len(f) < 6 {
		t.Fatalf("frame type %#x, want a result", f[0])
	}
	return binary.BigEndian.Uint32(f[1:5]), f[5], string(f[6:])
}

func info(t *testing.T, f []byte) (uint32, DeviceInfo) {
	t.Helper()
	if f[0] != TypeInfo {
		t.Fatalf("frame type %#x, want info", f[0])
	}
	var i DeviceInfo
	if err := json.Unmarshal(f[5:], &i); err != nil {
		t.Fatal(err)
	}
	return binary.BigEndian.Uint32(f[1:5]), i
}

func stun() []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b[0:2], 1)
	binary.BigEndian.PutUint32(b[4:8], datagram.STUNMagicCookie)
	return b
}

func listenDevice(t *testing.T) (*DeviceControl, *fakeSender, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wgt0.ctl")
	d, err := ListenDevice(path, DeviceIdentity{Implementation: "trellis-wg", Version: "0.1.0", WireguardModule: "v0.0.0-x", Iface: "wgt0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	s := &fakeSender{port: 51820}
	d.SetSender(s)
	return d, s, path
}

func TestDeviceControlSocket(t *testing.T) {
	d, s, path := listenDevice(t)
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("control socket %s: %v, mode %v; want a socket with mode 0600", path, err, st.Mode())
	}
	c := dial(t, path)
	id, hello := info(t, c.next())
	if id != 0 || hello.Protocol != Protocol || hello.Implementation != "trellis-wg" || hello.ListenPort != 51820 || hello.Iface != "wgt0" || hello.Counters.STUN != 3 {
		t.Fatalf("hello %+v", hello)
	}

	// A send goes out through the sender, with its source, and is answered by id.
	to := netip.MustParseAddrPort("198.18.0.2:3478")
	c.write(sendRequest(7, to, netip.MustParseAddr("198.18.0.1"), stun()))
	if id, status, msg := result(t, c.next()); id != 7 || status != StatusOK || msg != "" {
		t.Fatalf("result %d %d %q", id, status, msg)
	}
	if len(s.sent) != 1 || s.sent[0].to != to || s.sent[0].from != netip.MustParseAddr("198.18.0.1") {
		t.Fatalf("sent %+v", s.sent)
	}
	// No source: the kernel chooses.
	c.write(sendRequest(8, netip.MustParseAddrPort("[2001:db8::2]:51820"), netip.Addr{}, append([]byte("TRLD"), 1, 1)))
	if _, status, _ := result(t, c.next()); status != StatusOK || s.sent[1].from.IsValid() {
		t.Fatalf("send without a source: status %d, from %s", status, s.sent[1].from)
	}
	// Only STUN and disco may leave this way.
	wg := []byte{4, 0, 0, 0, 1, 2, 3, 4}
	c.write(sendRequest(9, to, netip.Addr{}, wg))
	if _, status, msg := result(t, c.next()); status != StatusRefused || msg == "" {
		t.Fatalf("a WireGuard-looking payload: status %d %q, want refused", status, msg)
	}
	// The kernel's error comes back as the result.
	s.err = errors.New("network is unreachable")
	c.write(sendRequest(10, to, netip.Addr{}, stun()))
	if _, status, msg := result(t, c.next()); status != StatusSendFailed || msg != "send to 198.18.0.2:3478: network is unreachable" {
		t.Fatalf("failed send: %d %q", status, msg)
	}
	s.err = filterbind.ErrClosed
	c.write(sendRequest(11, to, netip.Addr{}, stun()))
	if _, status, _ := result(t, c.next()); status != StatusClosed {
		t.Fatalf("send while closed: status %d", status)
	}
	// Malformed requests are answered, and the connection stays usable.
	c.write([]byte{TypeSend, 0, 0, 0, 12, 9})
	if id, status, _ := result(t, c.next()); id != 12 || status != StatusMalformed {
		t.Fatalf("bad family: %d %d", id, status)
	}
	c.write([]byte{0x7f, 0, 0, 0, 13})
	if id, status, _ := result(t, c.next()); id != 13 || status != StatusUnknownType {
		t.Fatalf("unknown type: %d %d", id, status)
	}
	c.write([]byte{TypeGetInfo, 0, 0, 0, 14})
	if id, i := info(t, c.next()); id != 14 || i.Counters.Sent != 2 || i.Counters.Refused != 1 || i.Counters.SendErrors != 2 || i.Clients != 1 {
		t.Fatalf("info %d %+v", id, i)
	}

	// Filtered datagrams reach every client.
	c2 := dial(t, path)
	c2.next() // hello
	for d.server.Clients() != 2 {
		time.Sleep(time.Millisecond)
	}
	d.Offer(&filterbind.Datagram{Kind: datagram.Disco, From: netip.MustParseAddrPort("198.18.0.9:41641"), Local: netip.MustParseAddr("198.18.0.1"), LocalPort: 51820, Payload: []byte("TRLD\x01x")})
	for _, cl := range []*testClient{c, c2} {
		f := cl.next()
		if f[0] != TypeDatagram || datagram.Kind(f[1]) != datagram.Disco {
			t.Fatalf("frame %x", f)
		}
		from, rest, err := ReadEndpoint(f[2:])
		if err != nil {
			t.Fatal(err)
		}
		local, payload, err := ReadIP(rest)
		if err != nil || from.String() != "198.18.0.9:41641" || local.String() != "198.18.0.1" || string(payload) != "TRLD\x01x" {
			t.Fatalf("datagram from %s at %s: %q (%v)", from, local, payload, err)
		}
	}
	// A port change is announced.
	d.PortChanged(0)
	if _, i := info(t, c.next()); i.Protocol != Protocol {
		t.Fatalf("port change info %+v", i)
	}
}

func TestDatagramsWithoutClientsAreCountedNotQueued(t *testing.T) {
	d, _, path := listenDevice(t)
	for i := 0; i < 3; i++ {
		d.Offer(&filterbind.Datagram{Kind: datagram.STUN, Payload: stun()})
	}
	deadline := time.Now().Add(2 * time.Second)
	for d.noClient.Load() != 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if d.noClient.Load() != 3 {
		t.Fatalf("noClient = %d, want 3", d.noClient.Load())
	}
	// A client that connects later does not get them.
	c := dial(t, path)
	c.next() // hello
	c.write([]byte{TypeGetInfo, 0, 0, 0, 1})
	if f := c.next(); f[0] != TypeInfo {
		t.Fatalf("after connecting, the next frame is %#x, want the info it asked for", f[0])
	}
}

func TestAFrameTooLargeClosesTheConnection(t *testing.T) {
	_, _, path := listenDevice(t)
	c := dial(t, path)
	c.next()
	hdr := binary.BigEndian.AppendUint32(nil, MaxFrame+1)
	c.conn.Write(hdr)
	c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := ReadFrame(c.r); err == nil {
		t.Fatal("the server must close a connection that announces an oversized frame")
	}
}

func TestASecondServerOnTheSamePathIsRefused(t *testing.T) {
	_, _, path := listenDevice(t)
	if _, err := ListenDevice(path, DeviceIdentity{}); err == nil {
		t.Fatal("a live control socket must not be taken over")
	}
	// A stale file (no listener) is replaced.
	stale := filepath.Join(t.TempDir(), "stale.ctl")
	l, _ := net.Listen("unix", stale)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	d, err := ListenDevice(stale, DeviceIdentity{})
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	d.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatal("Close must remove the socket file")
	}
}

func TestHandshakeRequestsReachThePeer(t *testing.T) {
	d, _, path := listenDevice(t)
	c := dial(t, path)
	c.next() // hello
	req := func(id uint32, key []byte) []byte {
		b := []byte{TypeHandshake}
		b = binary.BigEndian.AppendUint32(b, id)
		return append(b, key...)
	}
	known := [32]byte{1, 2, 3}
	// Before the device is attached: not up.
	c.write(req(1, known[:]))
	if _, status, _ := result(t, c.next()); status != StatusClosed {
		t.Fatalf("handshake before the device: status %d, want closed", status)
	}
	var asked [][32]byte
	d.SetHandshaker(func(pk [32]byte) error {
		if pk != known {
			return ErrNoPeer
		}
		asked = append(asked, pk)
		return nil
	})
	c.write(req(2, known[:]))
	if id, status, msg := result(t, c.next()); id != 2 || status != StatusOK || msg != "" || len(asked) != 1 {
		t.Fatalf("handshake: %d %d %q, asked %d", id, status, msg, len(asked))
	}
	c.write(req(3, make([]byte, 32)))
	if _, status, msg := result(t, c.next()); status != StatusNoPeer || msg != "handshake: the device has no peer with that public key" {
		t.Fatalf("unknown peer: %d %q", status, msg)
	}
	c.write(req(4, known[:31]))
	if _, status, _ := result(t, c.next()); status != StatusMalformed {
		t.Fatalf("short key: status %d, want malformed", status)
	}
}

func watchRequest(id uint32, js string) []byte {
	b := []byte{TypeWatch}
	b = binary.BigEndian.AppendUint32(b, id)
	return append(b, js...)
}

func TestDeviceControlWatchAndDemand(t *testing.T) {
	d, _, path := listenDevice(t)
	c := dial(t, path)
	c.next() // hello
	c.write(watchRequest(1, `{"addresses":["100.64.0.3"]}`))
	if _, status, msg := result(t, c.next()); status != StatusClosed {
		t.Fatalf("watch before the TUN is attached: %d %q, want closed", status, msg)
	}
	w := demand.NewWatch()
	d.SetWatch(w)

	// Refused requests name what is wrong and keep the set in force.
	c.write(watchRequest(2, `{"addresses":["100.64.0.3","fd7a:7e11:5000::3"],"intervalMs":50}`))
	if _, status, msg := result(t, c.next()); status != StatusOK || msg != "" {
		t.Fatalf("watch: %d %q", status, msg)
	}
	for _, bad := range []struct{ js, want string }{
		{`{"addresses":["100.64.0.300"]}`, `watch: addresses[0] "100.64.0.300" is not an IP address`},
		{`{"addresses":["100.64.0.3"],"intervalMs":1}`, "watch: intervalMs 1 is outside 10-600000"},
		{`{"addrs":[]}`, "watch: the body must be a JSON object"},
		{`{}`, "watch: addresses is missing (send [] to stop watching)"},
		{`nope`, "watch: the body must be a JSON object"},
	} {
		c.write(watchRequest(3, bad.js))
		if _, status, msg := result(t, c.next()); status != StatusInvalidInput || len(msg) < len(bad.want) || msg[:len(bad.want)] != bad.want {
			t.Fatalf("%s: %d %q, want invalid input %q", bad.js, status, msg, bad.want)
		}
	}
	if w.Len() != 2 {
		t.Fatalf("watching %d after refused requests, want the 2 set before", w.Len())
	}

	// A watched packet becomes a demand frame for every client; the info counts it.
	pkt := make([]byte, 20)
	pkt[0] = 0x45
	copy(pkt[16:20], []byte{100, 64, 0, 3})
	w.See(demand.Outbound, pkt)
	w.See(demand.Outbound, pkt)
	f := c.next()
	if f[0] != TypeDemand || demand.Direction(f[1]) != demand.Outbound {
		t.Fatalf("frame %x, want a demand", f)
	}
	if a, rest, err := ReadIP(f[2:]); err != nil || a.String() != "100.64.0.3" || len(rest) != 0 {
		t.Fatalf("demand address %s %x %v", a, rest, err)
	}
	c.write([]byte{TypeGetInfo, 0, 0, 0, 4})
	if _, i := info(t, c.next()); i.Counters.Demand != 1 || i.Counters.DemandSuppressed != 1 || i.Counters.Watched != 2 {
		t.Fatalf("info counters %+v", i.Counters)
	}
	c.write(watchRequest(5, `{"addresses":[]}`))
	if _, status, _ := result(t, c.next()); status != StatusOK || w.Len() != 0 {
		t.Fatalf("stop watching: %d, %d left", status, w.Len())
	}
}
