package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"trellis-wg/internal/datagram"
	"trellis-wg/internal/demand"
	"trellis-wg/internal/filterbind"
)

// Sender sends a datagram from the WireGuard socket (filterbind.Bind.SendTo).
type Sender interface {
	SendTo(to netip.AddrPort, from netip.Addr, payload []byte) error
	Port() uint16
	Counters() filterbind.Counters
}

// Handshaker starts a WireGuard handshake with the peer of a public key (the device's).
type Handshaker func(peer [32]byte) error

// ErrNoPeer is what a Handshaker returns for a key the device has no peer for.
var ErrNoPeer = errors.New("the device has no peer with that public key")

// DeviceIdentity is what a device's info says about the binary serving it.
type DeviceIdentity struct {
	Implementation  string `json:"implementation"`
	Version         string `json:"version"`
	WireguardModule string `json:"wireguardModule"`
	Iface           string `json:"iface"`
}

// DeviceCounters are the channel's figures, in the info object.
type DeviceCounters struct {
	filterbind.Counters
	// Delivered datagrams went to at least one client.
	Delivered uint64 `json:"delivered"`
	// NoClient datagrams arrived while no client was connected and were dropped.
	NoClient uint64 `json:"noClient"`
	// QueueFull datagrams were dropped because the hand-off queue was full.
	QueueFull uint64 `json:"queueFull"`
	// SlowClient frames were dropped for a client that did not read fast enough.
	SlowClient uint64 `json:"slowClient"`
	Sent       uint64 `json:"sent"`
	SendErrors uint64 `json:"sendErrors"`
	Refused    uint64 `json:"refused"`
	// Demand frames pushed for watched addresses; DemandSuppressed packets were within the interval.
	Demand           uint64 `json:"demand"`
	DemandSuppressed uint64 `json:"demandSuppressed"`
	// Watched is the number of watched addresses.
	Watched int `json:"watched"`
}

// DeviceInfo is the JSON object of a device's TypeInfo frame.
type DeviceInfo struct {
	Protocol int `json:"protocol"`
	DeviceIdentity
	ListenPort uint16         `json:"listenPort"`
	Clients    int            `json:"clients"`
	Counters   DeviceCounters `json:"counters"`
}

// Protocol is the control protocol's version, in every info object.
const Protocol = 1

// handoffQueue bounds the datagrams waiting between the receive path and the clients.
const handoffQueue = 4096

// DeviceControl serves a device's control socket: filtered datagrams out, sends in.
type DeviceControl struct {
	server *Server
	id     DeviceIdentity
	sender atomic.Pointer[Sender]
	shake  atomic.Pointer[Handshaker]
	watch  atomic.Pointer[demand.Watch]
	queue  chan *filterbind.Datagram
	stop   chan struct{}

	delivered, noClient, queueFull, sent, sendErrors, refused atomic.Uint64
}

// ListenDevice opens the control socket. Attach the bind with SetSender before datagrams flow.
func ListenDevice(path string, id DeviceIdentity) (*DeviceControl, error) {
	d := &DeviceControl{id: id, queue: make(chan *filterbind.Datagram, handoffQueue), stop: make(chan struct{})}
	s, err := bind(path, d)
	if err != nil {
		return nil, err
	}
	d.server = s
	s.Start()
	go d.dispatch()
	return d, nil
}

// SetSender attaches the WireGuard socket the device's sends go out on.
func (d *DeviceControl) SetSender(s Sender) { d.sender.Store(&s) }

// SetHandshaker attaches what starts a handshake (the device's peers).
func (d *DeviceControl) SetHandshaker(h Handshaker) { d.shake.Store(&h) }

// SetWatch attaches the TUN's watch (demand.Wrap); its reports go to every client as TypeDemand.
func (d *DeviceControl) SetWatch(w *demand.Watch) {
	w.SetSink(func(dir demand.Direction, addr netip.Addr) {
		d.server.Broadcast(AppendIP([]byte{TypeDemand, byte(dir)}, addr))
	})
	d.watch.Store(w)
}

// Offer hands over one filtered datagram; it never blocks (filterbind.Sink).
func (d *DeviceControl) Offer(dg *filterbind.Datagram) {
	select {
	case d.queue <- dg:
	default:
		d.queueFull.Add(1)
	}
}

// PortChanged tells every client the new listen port (0: the socket closed).
func (d *DeviceControl) PortChanged(uint16) {
	d.server.Broadcast(Info(0, d.infoJSON()))
}

// Close removes the socket and disconnects the clients.
func (d *DeviceControl) Close() error {
	close(d.stop)
	return d.server.Close()
}

func (d *DeviceControl) dispatch() {
	for {
		select {
		case dg := <-d.queue:
			if d.server.Clients() == 0 {
				d.noClient.Add(1)
				continue
			}
			b := make([]byte, 0, 1+1+19+17+len(dg.Payload))
			b = append(b, TypeDatagram, byte(dg.Kind))
			b = AppendEndpoint(b, dg.From)
			b = AppendIP(b, dg.Local)
			b = append(b, dg.Payload...)
			if d.server.Broadcast(b) > 0 {
				d.delivered.Add(1)
			}
		case <-d.stop:
			return
		}
	}
}

// Info is the device's current info object.
func (d *DeviceControl) Info() DeviceInfo {
	info := DeviceInfo{Protocol: Protocol, DeviceIdentity: d.id, Clients: d.server.Clients()}
	c := DeviceCounters{
		Delivered: d.delivered.Load(), NoClient: d.noClient.Load(), QueueFull: d.queueFull.Load(),
		SlowClient: d.server.SlowDrops.Load(), Sent: d.sent.Load(), SendErrors: d.sendErrors.Load(), Refused: d.refused.Load(),
	}
	if s := d.sender.Load(); s != nil {
		info.ListenPort = (*s).Port()
		c.Counters = (*s).Counters()
	}
	if w := d.watch.Load(); w != nil {
		c.Demand, c.DemandSuppressed, c.Watched = w.Reported.Load(), w.Suppressed.Load(), w.Len()
	}
	info.Counters = c
	return info
}

func (d *DeviceControl) infoJSON() []byte {
	js, _ := json.Marshal(d.Info())
	return js
}

func (d *DeviceControl) Hello() []byte { return Info(0, d.infoJSON()) }

func (d *DeviceControl) Handle(body []byte) []byte {
	id, ok := RequestID(body)
	if !ok {
		return Result(0, StatusMalformed, "request cut short: a type byte and a 4-byte id come first")
	}
	switch body[0] {
	case TypeGetInfo:
		return Info(id, d.infoJSON())
	case TypeSend:
		return d.send(id, body[5:])
	case TypeHandshake:
		return d.handshake(id, body[5:])
	case TypeWatch:
		return d.setWatch(id, body[5:])
	}
	return Result(id, StatusUnknownType, "unknown request type; a device takes send (0x03), get-info (0x05), handshake (0x06) and watch (0x07)")
}

// WatchRequest is the JSON object of a TypeWatch request.
type WatchRequest struct {
	// Addresses replace the watched set; empty stops watching.
	Addresses []string `json:"addresses"`
	// IntervalMs: at most one report per address and direction in this time (default 1000).
	IntervalMs *int `json:"intervalMs,omitempty"`
}

// setWatch replaces the watched addresses; a refused request changes nothing.
func (d *DeviceControl) setWatch(id uint32, b []byte) []byte {
	w := d.watch.Load()
	if w == nil {
		return Result(id, StatusClosed, "watch: the device is not up")
	}
	var req WatchRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Result(id, StatusInvalidInput, "watch: the body must be a JSON object {\"addresses\": [...], \"intervalMs\": n}: "+err.Error())
	}
	if req.Addresses == nil {
		return Result(id, StatusInvalidInput, "watch: addresses is missing (send [] to stop watching)")
	}
	if len(req.Addresses) > demand.MaxAddresses {
		return Result(id, StatusInvalidInput, fmt.Sprintf("watch: %d addresses; at most %d", len(req.Addresses), demand.MaxAddresses))
	}
	interval := demand.DefaultInterval
	if req.IntervalMs != nil {
		if *req.IntervalMs < 10 || *req.IntervalMs > 600000 {
			return Result(id, StatusInvalidInput, fmt.Sprintf("watch: intervalMs %d is outside 10-600000", *req.IntervalMs))
		}
		interval = time.Duration(*req.IntervalMs) * time.Millisecond
	}
	addrs := make([]netip.Addr, 0, len(req.Addresses))
	for i, s := range req.Addresses {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return Result(id, StatusInvalidInput, fmt.Sprintf("watch: addresses[%d] %q is not an IP address", i, s))
		}
		addrs = append(addrs, a)
	}
	w.Set(addrs, interval)
	return Result(id, StatusOK, "")
}

// handshake starts a handshake with one peer now: after its endpoint moved to a relay, the relay
// can forward the pair's traffic only by the session indexes of a handshake it carried. WireGuard
// sends at most one initiation per peer every 5 s (RekeyTimeout); a request within that time of
// the last one is answered ok and sends nothing.
func (d *DeviceControl) handshake(id uint32, b []byte) []byte {
	if len(b) != 32 {
		return Result(id, StatusMalformed, "handshake: the body is the peer's 32-byte public key")
	}
	h := d.shake.Load()
	if h == nil {
		return Result(id, StatusClosed, "handshake: the device is not up")
	}
	var pk [32]byte
	copy(pk[:], b)
	if err := (*h)(pk); err != nil {
		if errors.Is(err, ErrNoPeer) {
			return Result(id, StatusNoPeer, "handshake: "+err.Error())
		}
		return Result(id, StatusSendFailed, "handshake: "+err.Error())
	}
	return Result(id, StatusOK, "")
}

func (d *DeviceControl) send(id uint32, b []byte) []byte {
	to, rest, err := ReadEndpoint(b)
	if err == nil && !to.IsValid() {
		err = errors.New("destination address missing")
	}
	if err != nil {
		return Result(id, StatusMalformed, "send: destination: "+err.Error())
	}
	from, payload, err := ReadIP(rest)
	if err != nil {
		return Result(id, StatusMalformed, "send: source: "+err.Error())
	}
	if !datagram.IsSTUN(payload) && !datagram.IsDisco(payload) {
		d.refused.Add(1)
		return Result(id, StatusRefused, "send: the payload is neither STUN (RFC 8489) nor Trellis disco (\"TRLD\"); only those may leave the WireGuard socket this way")
	}
	s := d.sender.Load()
	if s == nil {
		return Result(id, StatusClosed, filterbind.ErrClosed.Error())
	}
	if err := (*s).SendTo(to, from, payload); err != nil {
		d.sendErrors.Add(1)
		if errors.Is(err, filterbind.ErrClosed) {
			return Result(id, StatusClosed, err.Error())
		}
		return Result(id, StatusSendFailed, "send to "+to.String()+": "+err.Error())
	}
	d.sent.Add(1)
	return Result(id, StatusOK, "")
}
