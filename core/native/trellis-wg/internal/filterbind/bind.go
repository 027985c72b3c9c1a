// Package filterbind wraps WireGuard's standard UDP bind so that STUN and Trellis disco datagrams
// arriving on the WireGuard socket go to the agent instead of the device, and the agent can send
// its own datagrams from that socket (from a chosen local address). WireGuard's own traffic keeps
// the standard bind's path untouched: the same batched reads and writes and UDP GSO/GRO.
package filterbind

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/conn"

	"trellis-wg/internal/datagram"
)

// Datagram is one STUN or disco datagram taken out of a receive batch.
type Datagram struct {
	Kind datagram.Kind
	// From is the remote address it came from.
	From netip.AddrPort
	// Local is the local address it arrived at (IP_PKTINFO); invalid when the kernel did not say.
	Local netip.Addr
	// LocalPort is the WireGuard listen port it arrived at.
	LocalPort uint16
	// Payload is a copy: the receive buffer goes back to the device.
	Payload []byte
}

// Sink takes filtered datagrams. It runs on the receive path, so it must never block.
type Sink func(d *Datagram)

// Counters are the bind's own figures, for the control socket's info.
type Counters struct {
	STUN  uint64 `json:"stun"`
	Disco uint64 `json:"disco"`
	// SourceRetries counts device sends that failed from a remembered local source address (gone,
	// or its route moved) and were sent again with the source left to the kernel.
	SourceRetries uint64 `json:"sourceRetries"`
}

// ErrClosed is returned by SendTo while the bind is closed (the device is down or changing port).
var ErrClosed = errors.New("the WireGuard socket is not open (the device is down or changing its listen port)")

// ErrSourceUnsupported means this build of the wireguard module cannot pin a source address.
var ErrSourceUnsupported = errors.New("choosing the source address is not supported by this wireguard module build")

// Bind is a conn.Bind around conn.NewStdNetBind().
type Bind struct {
	inner  conn.Bind
	sink   Sink
	onPort func(port uint16)

	mu   sync.Mutex // serializes Open and Close
	port atomic.Uint32

	stun, disco, sourceRetries atomic.Uint64
}

var _ conn.Bind = (*Bind)(nil)

// New wraps a fresh standard bind. sink gets every STUN and disco datagram; onPort (may be nil)
// hears the listen port each time the bind opens, and 0 when it closes.
func New(sink Sink, onPort func(port uint16)) *Bind {
	return &Bind{inner: conn.NewStdNetBind(), sink: sink, onPort: onPort}
}

// Port is the port the bind listens on, 0 while closed.
func (b *Bind) Port() uint16 { return uint16(b.port.Load()) }

// Counters reads the bind's figures.
func (b *Bind) Counters() Counters {
	return Counters{STUN: b.stun.Load(), Disco: b.disco.Load(), SourceRetries: b.sourceRetries.Load()}
}

func (b *Bind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fns, actual, err := b.inner.Open(port)
	if err != nil {
		return nil, 0, err
	}
	wrapped := make([]conn.ReceiveFunc, len(fns))
	for i, fn := range fns {
		wrapped[i] = b.filter(fn, actual)
	}
	b.port.Store(uint32(actual))
	if b.onPort != nil {
		b.onPort(actual)
	}
	return wrapped, actual, nil
}

func (b *Bind) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	wasOpen := b.port.Swap(0) != 0
	err := b.inner.Close()
	if wasOpen && b.onPort != nil {
		b.onPort(0)
	}
	return err
}

func (b *Bind) SetMark(mark uint32) error                     { return b.inner.SetMark(mark) }
func (b *Bind) ParseEndpoint(s string) (conn.Endpoint, error) { return b.inner.ParseEndpoint(s) }
func (b *Bind) BatchSize() int                                { return b.inner.BatchSize() }

// Send is the standard bind's Send. When it fails from a remembered source address (the sticky
// socket's IP_PKTINFO), the source is cleared and the batch sent once more, as the kernel module
// does: upstream's route listener, which clears stale sources when routes change, runs only for
// the unwrapped *conn.StdNetBind.
func (b *Bind) Send(bufs [][]byte, ep conn.Endpoint) error {
	err := b.inner.Send(bufs, ep)
	if err == nil || !ep.SrcIP().IsValid() {
		return err
	}
	var gso conn.ErrUDPGSODisabled
	if errors.As(err, &gso) && gso.RetryErr == nil {
		return err // sent, after the standard bind turned GSO off; sending again would duplicate
	}
	ep.ClearSrc()
	b.sourceRetries.Add(1)
	return b.inner.Send(bufs, ep)
}

// filter runs the standard receive function, then takes STUN and disco datagrams out of the batch
// in place: their size becomes 0, which the device skips. Everything else is left as it was.
func (b *Bind) filter(fn conn.ReceiveFunc, port uint16) conn.ReceiveFunc {
	return func(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
		n, err := fn(bufs, sizes, eps)
		if err != nil {
			return n, err
		}
		for i := 0; i < n; i++ {
			size := sizes[i]
			if size == 0 {
				continue
			}
			p := bufs[i][:size]
			if datagram.IsWireGuard(p) {
				continue
			}
			var kind datagram.Kind
			switch {
			case datagram.IsSTUN(p):
				kind = datagram.STUN
				b.stun.Add(1)
			case datagram.IsDisco(p):
				kind = datagram.Disco
				b.disco.Add(1)
			default:
				continue
			}
			sizes[i] = 0
			d := &Datagram{Kind: kind, LocalPort: port, Payload: append([]byte(nil), p...)}
			if ep := eps[i]; ep != nil {
				if se, ok := ep.(*conn.StdNetEndpoint); ok {
					d.From = se.AddrPort
				} else if ap, perr := netip.ParseAddrPort(ep.DstToString()); perr == nil {
					d.From = ap
				}
				d.Local = ep.SrcIP()
			}
			b.sink(d)
		}
		return n, nil
	}
}

// SendTo sends one datagram from the WireGuard socket to `to`. With a valid `from` the kernel
// sends it from that local address (IP_PKTINFO / IPV6_PKTINFO), which must be configured on this
// host; otherwise routing chooses, as for any WireGuard datagram.
func (b *Bind) SendTo(to netip.AddrPort, from netip.Addr, payload []byte) error {
	if b.Port() == 0 {
		return ErrClosed
	}
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	if !to.IsValid() || to.Port() == 0 || to.Addr().IsUnspecified() {
		return fmt.Errorf("destination %s is not an address and port to send to", to)
	}
	ep, err := b.inner.ParseEndpoint(to.String())
	if err != nil {
		return err
	}
	if from.IsValid() {
		from = from.Unmap()
		if from.Is4() != to.Addr().Is4() {
			return fmt.Errorf("source %s and destination %s are of different address families", from, to.Addr())
		}
		if err := SetSource(ep, from); err != nil {
			return err
		}
	}
	err = b.inner.Send([][]byte{payload}, ep)
	var gso conn.ErrUDPGSODisabled
	if errors.As(err, &gso) {
		err = gso.RetryErr
	}
	if errors.Is(err, net.ErrClosed) {
		return ErrClosed
	}
	return err
}

// srcField is StdNetEndpoint's unexported sticky source (a PKTINFO control message), found by
// name and type so that a module change makes SetSource refuse rather than write elsewhere.
var srcField = func() *reflect.StructField {
	f, ok := reflect.TypeOf(conn.StdNetEndpoint{}).FieldByName("src")
	if !ok || f.Type != reflect.TypeOf([]byte(nil)) {
		return nil
	}
	return &f
}()

// SetSource pins the local source address of a standard endpoint, the way the standard bind
// remembers the address a peer's datagrams arrived at: as the PKTINFO control message it sends
// with. The endpoint's own SrcIP() must read the address back, or nothing is changed.
func SetSource(ep conn.Endpoint, from netip.Addr) error {
	se, ok := ep.(*conn.StdNetEndpoint)
	if !ok || srcField == nil {
		return ErrSourceUnsupported
	}
	var cmsg []byte
	if from.Is4() {
		cmsg = make([]byte, unix.CmsgSpace(unix.SizeofInet4Pktinfo))
		hdr := (*unix.Cmsghdr)(unsafe.Pointer(&cmsg[0]))
		hdr.Level, hdr.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
		hdr.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
		info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&cmsg[unix.CmsgLen(0)]))
		info.Spec_dst = from.As4()
	} else {
		cmsg = make([]byte, unix.CmsgSpace(unix.SizeofInet6Pktinfo))
		hdr := (*unix.Cmsghdr)(unsafe.Pointer(&cmsg[0]))
		hdr.Level, hdr.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
		hdr.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
		info := (*unix.Inet6Pktinfo)(unsafe.Pointer(&cmsg[unix.CmsgLen(0)]))
		info.Addr = from.As16()
	}
	src := (*[]byte)(unsafe.Add(unsafe.Pointer(se), srcField.Offset))
	*src = cmsg
	if se.SrcIP() != from {
		*src = nil
		return ErrSourceUnsupported
	}
	return nil
}
