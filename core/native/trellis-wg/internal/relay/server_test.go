package relay

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/tuntest"

	"trellis-wg/internal/datagram"
	"trellis-wg/internal/disco"
	"trellis-wg/internal/filterbind"
)

// peerDevice is a real wireguard-go device on the loopback, with Trellis's bind, in this process.
type peerDevice struct {
	priv, pub Key
	ip        netip.Addr
	tun       *tuntest.ChannelTUN
	dev       *device.Device
	bind      *filterbind.Bind
	mu        sync.Mutex
	disco     [][]byte
}

func newPeerDevice(t *testing.T, last byte) *peerDevice {
	t.Helper()
	p := &peerDevice{ip: netip.AddrFrom4([4]byte{10, 99, 0, last}), tun: tuntest.NewChannelTUN()}
	rand.Read(p.priv[:])
	p.pub = disco.PublicKey(p.priv)
	p.bind = filterbind.New(func(d *filterbind.Datagram) {
		if d.Kind == datagram.Disco {
			p.mu.Lock()
			p.disco = append(p.disco, d.Payload)
			p.mu.Unlock()
		}
	}, nil)
	p.dev = device.NewDevice(p.tun.TUN(), p.bind, device.NewLogger(device.LogLevelError, fmt.Sprintf("dev%d: ", last)))
	if err := p.dev.IpcSet(fmt.Sprintf("private_key=%s\nlisten_port=0\n", hex.EncodeToString(p.priv[:]))); err != nil {
		t.Fatal(err)
	}
	if err := p.dev.Up(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.dev.Close)
	return p
}

func (p *peerDevice) addPeer(t *testing.T, o *peerDevice, endpoint netip.AddrPort) {
	t.Helper()
	cfg := fmt.Sprintf("public_key=%s\nendpoint=%s\nallowed_ip=%s/32\n", hex.EncodeToString(o.pub[:]), endpoint, o.ip)
	if err := p.dev.IpcSet(cfg); err != nil {
		t.Fatal(err)
	}
}

// pingRelay sends an authenticated disco ping to the relay from the device's WireGuard socket.
func (p *peerDevice) pingRelay(t *testing.T, relayPub Key, relay netip.AddrPort) {
	t.Helper()
	k, err := disco.PairKey(p.priv, relayPub)
	if err != nil {
		t.Fatal(err)
	}
	var tx [12]byte
	rand.Read(tx[:])
	m := &disco.Message{Type: disco.TypePing, Sender: p.pub, Receiver: relayPub, TxID: tx, Timestamp: uint64(time.Now().UnixMicro())}
	if err := p.bind.SendTo(relay, netip.Addr{}, m.Seal(k)); err != nil {
		t.Fatal(err)
	}
}

// delivered sends an ICMP echo from `from`'s TUN towards `to` and waits for it at `to`'s TUN.
func delivered(from, to *peerDevice, wait time.Duration) bool {
	pkt := tuntest.Ping(to.ip, from.ip)
	deadline := time.After(wait)
	resend := time.NewTicker(200 * time.Millisecond)
	defer resend.Stop()
	select {
	case from.tun.Outbound <- pkt:
	case <-deadline:
		return false
	}
	for {
		select {
		case got := <-to.tun.Inbound:
			if bytes.Equal(got, pkt) {
				return true
			}
		case <-resend.C:
			select {
			case from.tun.Outbound <- pkt:
			default:
			}
		case <-deadline:
			return false
		}
	}
}

// TestRealDevicesTalkThroughTheRelay runs two real wireguard-go devices whose peers' endpoints are
// the relay's port: the relay learns them from their disco pings and carries their handshake and
// data, while holding neither device's key.
func TestRealDevicesTalkThroughTheRelay(t *testing.T) {
	r := New()
	var relayPriv Key
	rand.Read(relayPriv[:])
	srv, err := Serve(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	relayAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), srv.Port())

	a, b := newPeerDevice(t, 1), newPeerDevice(t, 2)
	a.addPeer(t, b, relayAddr)
	b.addPeer(t, a, relayAddr)
	pairs := [][2]Key{{a.pub, b.pub}}
	if err := r.Configure(Config{PrivateKey: &relayPriv, Pairs: &pairs}); err != nil {
		t.Fatal(err)
	}
	relayPub := disco.PublicKey(relayPriv)
	a.pingRelay(t, relayPub, relayAddr)
	b.pingRelay(t, relayPub, relayAddr)

	if !delivered(a, b, 5*time.Second) || !delivered(b, a, 5*time.Second) {
		t.Fatalf("no traffic through the relay; relay state %+v", r.Snapshot(time.Now()))
	}
	// Each device got the relay's pong, through its own bind's filter.
	for _, p := range []*peerDevice{a, b} {
		p.mu.Lock()
		n := len(p.disco)
		var pong *disco.Message
		if n > 0 {
			k, _ := disco.PairKey(p.priv, relayPub)
			pong, _ = disco.Open(p.disco[0], k)
		}
		p.mu.Unlock()
		if pong == nil || pong.Type != disco.TypePong {
			t.Fatalf("device %s: no authenticated pong from the relay (%d disco datagrams)", p.ip, n)
		}
	}
	info := r.Snapshot(time.Now())
	if info.Counters.ForwardedPackets < 4 || info.Routes < 2 {
		t.Fatalf("relay counters %+v, routes %d", info.Counters, info.Routes)
	}

	// Off the allow-list, the same two devices no longer get through.
	none := [][2]Key{}
	if err := r.Configure(Config{Pairs: &none}); err != nil {
		t.Fatal(err)
	}
	if delivered(a, b, 1500*time.Millisecond) {
		t.Fatal("traffic still flows after the pair left the allow-list")
	}
}
