package relay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batch is how many datagrams one read or write moves (recvmmsg/sendmmsg).
const batch = 128

// bufSize holds any datagram of a 9000-byte jumbo frame.
const bufSize = 9216

// socketBuffer is what the relay asks for its socket buffers (SO_RCVBUFFORCE with CAP_NET_ADMIN),
// as wireguard-go does: a burst of a fast flow must not overflow them.
const socketBuffer = 7 << 20

type batchConn interface {
	ReadBatch(ms []ipv6.Message, flags int) (int, error)
	WriteBatch(ms []ipv6.Message, flags int) (int, error)
}

// Server moves datagrams for a Relay on one UDP port, IPv4 and IPv6.
type Server struct {
	relay *Relay
	port  uint16
	conns []*net.UDPConn
	wg    sync.WaitGroup
	stop  chan struct{}
	// WriteErrors counts datagrams the kernel refused to send.
	WriteErrors atomic.Uint64
}

func listen(network string, port int) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, socketBuffer)
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, socketBuffer)
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, socketBuffer)
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUFFORCE, socketBuffer)
		})
	}}
	pc, err := lc.ListenPacket(nil, network, fmt.Sprintf(":%d", port))
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// Serve listens on port (IPv4 and, where the host has it, IPv6; 0 picks a free one) and forwards
// until Close.
func Serve(r *Relay, port uint16) (*Server, error) {
	s := &Server{relay: r, port: port, stop: make(chan struct{})}
	v4, err := listen("udp4", int(port))
	if err != nil {
		return nil, fmt.Errorf("relay port %d (IPv4): %w", port, err)
	}
	s.conns = append(s.conns, v4)
	s.port = uint16(v4.LocalAddr().(*net.UDPAddr).Port)
	if v6, err := listen("udp6", int(s.port)); err == nil {
		s.conns = append(s.conns, v6)
	} else if !errors.Is(err, syscall.EAFNOSUPPORT) && !errors.Is(err, syscall.EADDRNOTAVAIL) {
		v4.Close()
		return nil, fmt.Errorf("relay port %d (IPv6): %w", port, err)
	}
	s.wg.Add(len(s.conns) + 1)
	if len(s.conns) > 1 {
		go s.loop(ipv4.NewPacketConn(v4), true, s.conns[1])
		go s.loop(ipv6.NewPacketConn(s.conns[1]), false, v4)
	} else {
		go s.loop(ipv4.NewPacketConn(v4), true, nil)
	}
	go s.sweep()
	return s, nil
}

// Port is the UDP port the relay serves.
func (s *Server) Port() uint16 { return s.port }

// Close stops forwarding and closes the sockets.
func (s *Server) Close() {
	close(s.stop)
	for _, c := range s.conns {
		c.Close()
	}
	s.wg.Wait()
}

func (s *Server) sweep() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			s.relay.Sweep(now)
		case <-s.stop:
			return
		}
	}
}

// loop reads a batch, decides it under one lock, and writes what goes out in one batch. Forwarded
// datagrams leave from the buffer they arrived in. A datagram for the other address family (a pair
// of an IPv4 and an IPv6 node) leaves through the other socket, one at a time.
func (s *Server) loop(pc batchConn, is4 bool, other *net.UDPConn) {
	defer s.wg.Done()
	in := make([]ipv6.Message, batch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, bufSize)}
	}
	out := make([]ipv6.Message, batch)
	addrs := make([]net.UDPAddr, batch)
	for i := range out {
		out[i].Buffers = [][]byte{nil}
		addrs[i].IP = make(net.IP, 16)
	}
	incoming := make([]Incoming, batch)
	decisions := make([]Decision, batch)
	for {
		n, err := pc.ReadBatch(in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-s.stop:
				return
			default:
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for i := 0; i < n; i++ {
			ua, _ := in[i].Addr.(*net.UDPAddr)
			var from netip.AddrPort
			if ua != nil {
				from = ua.AddrPort()
			}
			incoming[i] = Incoming{Packet: in[i].Buffers[0][:in[i].N], From: from}
		}
		s.relay.HandleBatch(incoming[:n], decisions[:n], time.Now())
		k := 0
		for i := 0; i < n; i++ {
			d := &decisions[i]
			var payload []byte
			switch d.Action {
			case Forward:
				payload = incoming[i].Packet
			case Reply:
				payload = d.Reply
			default:
				continue
			}
			to := d.To.Addr()
			if to.Is4() != is4 {
				if other == nil {
					s.WriteErrors.Add(1)
				} else if _, err := other.WriteToUDPAddrPort(payload, d.To); err != nil {
					s.WriteErrors.Add(1)
				}
				continue
			}
			a := &addrs[k]
			if to.Is4() {
				v := to.As4()
				a.IP = append(a.IP[:0], v[:]...)
			} else {
				v := to.As16()
				a.IP = append(a.IP[:0], v[:]...)
			}
			a.Port = int(d.To.Port())
			out[k].Buffers[0] = payload
			out[k].Addr = a
			k++
		}
		for start := 0; start < k; {
			m, err := pc.WriteBatch(out[start:k], 0)
			if err != nil {
				// One refused datagram (e.g. no route to that node) must not hold back the rest.
				s.WriteErrors.Add(1)
				start++
				continue
			}
			start += m
		}
		for i := 0; i < k; i++ {
			out[i].Buffers[0] = nil
		}
	}
}
