package relay

import (
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// oobSize holds one UDP_GRO or UDP_SEGMENT control message.
var oobSize = unix.CmsgSpace(4)

// enableGRO asks the kernel to coalesce runs of datagrams (UDP_GRO); false when it cannot.
func enableGRO(c *net.UDPConn) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1) }); err != nil {
		return false
	}
	return serr == nil
}

// groSize reads the segment size of a coalesced read from its control messages; 0 when none.
func groSize(oob []byte) int {
	for len(oob) > unix.SizeofCmsghdr {
		hdr, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return 0
		}
		if hdr.Level == unix.SOL_UDP && hdr.Type == unix.UDP_GRO && len(data) >= 2 {
			// The kernel writes an int; its low 16 bits (host order) are the size.
			return int(*(*uint16)(unsafe.Pointer(&data[0])))
		}
		oob = rest
	}
	return 0
}

// appendSegmentSize adds a UDP_SEGMENT control message: the kernel sends the buffer as datagrams
// of size bytes (the last may be shorter).
func appendSegmentSize(oob []byte, size uint16) []byte {
	start := len(oob)
	oob = oob[:start+unix.CmsgSpace(2)]
	for i := start; i < len(oob); i++ {
		oob[i] = 0
	}
	hdr := (*unix.Cmsghdr)(unsafe.Pointer(&oob[start]))
	hdr.Level = unix.SOL_UDP
	hdr.Type = unix.UDP_SEGMENT
	hdr.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&oob[start+unix.CmsgLen(0)])) = size
	return oob
}

// segmentSize reads back the UDP_SEGMENT size of an outgoing message; 0 when it has none.
func segmentSize(oob []byte) int {
	for len(oob) > unix.SizeofCmsghdr {
		hdr, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return 0
		}
		if hdr.Level == unix.SOL_UDP && hdr.Type == unix.UDP_SEGMENT && len(data) >= 2 {
			return int(*(*uint16)(unsafe.Pointer(&data[0])))
		}
		oob = rest
	}
	return 0
}

// adjacent says whether b starts right where a ends in the same backing array.
func adjacent(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 || cap(a) < len(a)+len(b) {
		return false
	}
	return &a[:len(a)+1][len(a)] == &b[0]
}
