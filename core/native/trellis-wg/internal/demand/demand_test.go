package demand

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun"
)

// fakeTUN hands out queued packets on Read and records writes.
type fakeTUN struct {
	toRead  [][]byte
	written [][]byte
}

func (f *fakeTUN) File() *os.File           { return nil }
func (f *fakeTUN) MTU() (int, error)        { return 1420, nil }
func (f *fakeTUN) Name() (string, error)    { return "wgt0", nil }
func (f *fakeTUN) Events() <-chan tun.Event { return nil }
func (f *fakeTUN) Close() error             { return nil }
func (f *fakeTUN) BatchSize() int           { return 4 }
func (f *fakeTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n := 0
	for n < len(bufs) && len(f.toRead) > 0 {
		sizes[n] = copy(bufs[n][offset:], f.toRead[0])
		f.toRead = f.toRead[1:]
		n++
	}
	return n, nil
}
func (f *fakeTUN) Write(bufs [][]byte, offset int) (int, error) {
	for _, b := range bufs {
		f.written = append(f.written, append([]byte(nil), b[offset:]...))
	}
	return len(bufs), nil
}

func ipv4(src, dst string) []byte {
	p := make([]byte, 28)
	p[0] = 0x45
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(p[12:16], s[:])
	copy(p[16:20], d[:])
	return p
}

func ipv6(src, dst string) []byte {
	p := make([]byte, 48)
	p[0] = 0x60
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(p[8:24], s[:])
	copy(p[24:40], d[:])
	return p
}

type report struct {
	dir  Direction
	addr string
}

func TestWatchReportsWatchedAddressesOncePerInterval(t *testing.T) {
	w := NewWatch()
	var clock int64
	w.now = func() int64 { return clock }
	var got []report
	w.SetSink(func(d Direction, a netip.Addr) { got = append(got, report{d, a.String()}) })
	fake := &fakeTUN{}
	dev := Wrap(fake, w)
	const offset = 16
	bufs := make([][]byte, 4)
	for i := range bufs {
		bufs[i] = make([]byte, offset+1500)
	}
	sizes := make([]int, 4)
	read := func(pkts ...[]byte) {
		fake.toRead = append(fake.toRead, pkts...)
		n, err := dev.Read(bufs, sizes, offset)
		if err != nil || n != len(pkts) {
			t.Fatalf("read %d, %v", n, err)
		}
		for i, p := range pkts {
			if string(bufs[i][offset:offset+sizes[i]]) != string(p) {
				t.Fatalf("packet %d changed on the way", i)
			}
		}
	}
	write := func(pkts ...[]byte) {
		in := make([][]byte, len(pkts))
		for i, p := range pkts {
			in[i] = append(make([]byte, offset), p...)
		}
		if n, err := dev.Write(in, offset); err != nil || n != len(pkts) {
			t.Fatalf("write %d, %v", n, err)
		}
	}

	// Nothing watched: nothing reported, packets pass.
	read(ipv4("100.64.0.2", "100.64.0.3"))
	if len(got) != 0 || w.Reported.Load() != 0 {
		t.Fatalf("reports without a watch: %v", got)
	}

	w.Set([]netip.Addr{netip.MustParseAddr("100.64.0.3"), netip.MustParseAddr("fd7a:7e11:5000::3")}, time.Second)
	// Outbound by destination, inbound by source; unwatched addresses and junk are ignored.
	read(ipv4("100.64.0.2", "100.64.0.3"), ipv4("100.64.0.2", "100.64.0.3"), ipv4("100.64.0.2", "100.64.0.9"), []byte{0x45, 1, 2})
	write(ipv4("100.64.0.3", "100.64.0.2"), ipv4("100.64.0.2", "100.64.0.3"), ipv6("fd7a:7e11:5000::3", "fd7a:7e11:5000::2"))
	read(ipv6("fd7a:7e11:5000::2", "fd7a:7e11:5000::3"))
	want := []report{{Outbound, "100.64.0.3"}, {Inbound, "100.64.0.3"}, {Inbound, "fd7a:7e11:5000::3"}, {Outbound, "fd7a:7e11:5000::3"}}
	if len(got) != len(want) {
		t.Fatalf("reports %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("reports %v, want %v", got, want)
		}
	}
	if w.Suppressed.Load() != 1 {
		t.Fatalf("suppressed %d, want 1 (the second packet within the interval)", w.Suppressed.Load())
	}
	if len(fake.written) != 3 {
		t.Fatalf("writes reached the TUN: %d, want 3", len(fake.written))
	}

	// Within the interval: suppressed; after it: reported again.
	clock += int64(500 * time.Millisecond)
	read(ipv4("100.64.0.2", "100.64.0.3"))
	clock += int64(600 * time.Millisecond)
	read(ipv4("100.64.0.2", "100.64.0.3"))
	if len(got) != 5 || got[4] != (report{Outbound, "100.64.0.3"}) {
		t.Fatalf("after the interval: %v", got)
	}

	// An address dropped from the set and watched again is reported at once.
	w.Set([]netip.Addr{netip.MustParseAddr("100.64.0.9")}, time.Second)
	read(ipv4("100.64.0.2", "100.64.0.3"))
	w.Set([]netip.Addr{netip.MustParseAddr("100.64.0.3")}, time.Second)
	read(ipv4("100.64.0.2", "100.64.0.3"))
	if len(got) != 6 || w.Len() != 1 {
		t.Fatalf("re-watched: %v (watching %d)", got, w.Len())
	}
	// An empty set stops watching.
	w.Set(nil, time.Second)
	clock += int64(time.Hour)
	read(ipv4("100.64.0.2", "100.64.0.3"))
	if len(got) != 6 || w.Len() != 0 {
		t.Fatalf("after stopping: %v", got)
	}
}
