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

// batch is how many buffers one read moves (recvmmsg).
const batch = 64

// bufSize holds the largest UDP payload, which a run of datagrams coalesced by UDP GRO may fill.
const bufSize = 65535

// maxSegments bounds the datagrams of one GSO send (the kernel's UDP_MAX_SEGMENTS is 64 or more).
const maxSegments = 64

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
		go s.loop(ipv4.NewPacketConn(v4), v4, true, s.conns[1])
		go s.loop(ipv6.NewPacketConn(s.conns[1]), s.conns[1], false, v4)
	} else {
		go s.loop(ipv4.NewPacketConn(v4), v4, true, nil)
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

// loop reads a batch, decides it under one lock, and writes what goes out in one batch.
//
// With UDP GRO the kernel hands over runs of same-sized datagrams from one source coalesced in
// one buffer (its segment size in a UDP_GRO control message); each datagram is decided on its
// own, and consecutive ones of a run that go to the same destination leave together as one UDP
// GSO send (UDP_SEGMENT), straight from the buffer they arrived in. A WireGuard flow through the
// relay thus costs a few system calls per 64 KiB rather than two per datagram, as WireGuard's own
// bind does. A datagram for the other address family (a pair of an IPv4 and an IPv6 node) leaves
// through the other socket, one at a time.
func (s *Server) loop(pc batchConn, c *net.UDPConn, is4 bool, other *net.UDPConn) {
	defer s.wg.Done()
	gro := enableGRO(c)
	gso := gro
	in := make([]ipv6.Message, batch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, bufSize)}
		in[i].OOB = make([]byte, oobSize)
	}
	out := make([]ipv6.Message, batch*maxSegments)
	addrs := make([]net.UDPAddr, len(out))
	for i := range out {
		out[i].Buffers = [][]byte{nil}
		out[i].OOB = make([]byte, 0, oobSize)
		addrs[i].IP = make(net.IP, 16)
	}
	var incoming []Incoming
	var decisions []Decision
	var sizes []int // per incoming datagram: its run's segment size (0 when it came alone)
	for {
		for i := range in {
			in[i].OOB = in[i].OOB[:cap(in[i].OOB)]
		}
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
		incoming, sizes = incoming[:0], sizes[:0]
		for i := 0; i < n; i++ {
			ua, _ := in[i].Addr.(*net.UDPAddr)
			var from netip.AddrPort
			if ua != nil {
				from = netip.AddrPortFrom(ua.AddrPort().Addr().Unmap(), ua.AddrPort().Port())
			}
			buf := in[i].Buffers[0][:in[i].N]
			seg := 0
			if gro {
				seg = groSize(in[i].OOB[:in[i].NN])
			}
			if seg <= 0 || seg >= len(buf) {
				incoming = append(incoming, Incoming{Packet: buf, From: from})
				sizes = append(sizes, 0)
				continue
			}
			for off := 0; off < len(buf); off += seg {
				incoming = append(incoming, Incoming{Packet: buf[off:min(off+seg, len(buf))], From: from})
				sizes = append(sizes, seg)
			}
		}
		if cap(decisions) < len(incoming) {
			decisions = make([]Decision, len(incoming))
		}
		decisions = decisions[:len(incoming)]
		s.relay.HandleBatch(incoming, decisions, time.Now())
		k := 0
		for i := 0; i < len(incoming); i++ {
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
			// Extend the run: the following datagrams of the same coalesced buffer, contiguous, of
			// the run's size, forwarded to the same address.
			segs := 1
			if gso && d.Action == Forward && sizes[i] > 0 && len(payload) == sizes[i] {
				for j := i + 1; j < len(incoming) && segs < maxSegments; j++ {
					dj := &decisions[j]
					pj := incoming[j].Packet
					if dj.Action != Forward || dj.To != d.To || sizes[j] != sizes[i] || len(pj) > sizes[i] || !adjacent(payload, pj) {
						break
					}
					payload = payload[:len(payload)+len(pj)]
					segs++
					if len(pj) < sizes[i] {
						break // a shorter datagram ends a run
					}
				}
			}
			if k == len(out) {
				s.flush(pc, out[:k], &gso)
				k = 0
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
			out[k].OOB = out[k].OOB[:0]
			if segs > 1 {
				out[k].OOB = appendSegmentSize(out[k].OOB, uint16(sizes[i]))
			}
			k++
			i += segs - 1
		}
		s.flush(pc, out[:k], &gso)
	}
}

// flush writes out; a message the kernel refuses does not hold back the rest. A refused GSO send
// (a path that cannot segment) is sent again datagram by datagram, and GSO stays off.
func (s *Server) flush(pc batchConn, out []ipv6.Message, gso *bool) {
	for start := 0; start < len(out); {
		m, err := pc.WriteBatch(out[start:], 0)
		if err == nil {
			start += m
			continue
		}
		bad := &out[start]
		if seg := segmentSize(bad.OOB); seg > 0 {
			*gso = false
			payload := bad.Buffers[0]
			bad.OOB = bad.OOB[:0]
			for off := 0; off < len(payload); off += seg {
				bad.Buffers[0] = payload[off:min(off+seg, len(payload))]
				if _, err := pc.WriteBatch(out[start:start+1], 0); err != nil {
					s.WriteErrors.Add(1)
				}
			}
		} else {
			s.WriteErrors.Add(1)
		}
		start++
	}
	for i := range out {
		out[i].Buffers[0] = nil
	}
}
