// trellis-wg is Trellis's WireGuard device: the pinned upstream wireguard-go device and TUN code
// (third_party/wireguard-go, with one fix: TRELLIS.md there), with a UDP bind that hands STUN and
// disco datagrams arriving on the WireGuard socket to the agent and lets the agent send its own
// from that socket (PROTOCOL.md). `trellis-wg relay` is the
// keyless WireGuard relay forwarder of relay nodes, in a process of its own.
//
//	trellis-wg [-f|--foreground] <iface>      the device (always in the foreground)
//	trellis-wg relay --port <udp port> [--control <socket>]
//	trellis-wg --version
package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// Version is trellis-wg's own version.
const Version = "0.1.0"

// SourceDigest is set by scripts/install-trellis-wg.sh (-ldflags -X main.SourceDigest=…): a hash
// of the sources it was built from, so the script knows when the installed binary is current.
var SourceDigest = "unknown"

const wireguardModule = "golang.zx2c4.com/wireguard"

// wireguardModuleVersion is the version of the wireguard module this binary was linked with. A
// local replacement (third_party/wireguard-go: that version with Trellis's fix, TRELLIS.md) has
// no version of its own, so it reads as the version it patches, and `--version` says so.
func wireguardModuleVersion() string {
	v, _ := wireguardModuleBuild()
	return v
}

func wireguardModuleBuild() (version string, patched bool) {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == wireguardModule {
				if d.Replace != nil && d.Replace.Version != "" && d.Replace.Version != "(devel)" {
					return d.Replace.Version, false
				}
				return d.Version, d.Replace != nil
			}
		}
	}
	return "unknown", false
}

// ignoreBrokenPipes keeps trellis-wg alive when the reader of its stdout or stderr is gone. The
// agent reads them, and a device outlives an agent that crashed (the next agent adopts it); Go
// exits on SIGPIPE at the first write to a broken stdout or stderr, so the adopted device died at
// its next log line. Ignored, the write fails with EPIPE and the line is lost instead.
func ignoreBrokenPipes() {
	signal.Ignore(unix.SIGPIPE)
}

func usage() {
	fmt.Fprintf(os.Stderr, `usage:
  trellis-wg [-f|--foreground] <iface>          run the WireGuard device <iface> (always in the foreground)
  trellis-wg relay --port <port> [--control <socket>]
                                                run the relay forwarder on UDP <port>
  trellis-wg --version
`)
}

func main() {
	ignoreBrokenPipes()
	args := os.Args[1:]
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-v") {
		wgVersion, patched := wireguardModuleBuild()
		if patched {
			wgVersion += " (with third_party/wireguard-go/TRELLIS.md)"
		}
		fmt.Printf("trellis-wg v%s (source %s)\n%s %s\n%s %s/%s\n", Version, SourceDigest, wireguardModule, wgVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return
	}
	if len(args) >= 1 && args[0] == "relay" {
		os.Exit(runRelay(args[1:]))
	}
	if len(args) == 2 && (args[0] == "-f" || args[0] == "--foreground") {
		args = args[1:]
	}
	if len(args) != 1 || len(args[0]) == 0 || args[0][0] == '-' {
		usage()
		os.Exit(2)
	}
	os.Exit(runDevice(args[0]))
}
