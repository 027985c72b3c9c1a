// trellis-wg is Trellis's WireGuard device: the pinned upstream wireguard-go device and TUN code,
// with a UDP bind that hands STUN and disco datagrams arriving on the WireGuard socket to the
// agent and lets the agent send its own from that socket (PROTOCOL.md). `trellis-wg relay` is the
// keyless WireGuard relay forwarder of relay nodes, in a process of its own.
//
//	trellis-wg [-f|--foreground] <iface>      the device (always in the foreground)
//	trellis-wg relay --port <udp port> [--control <socket>]
//	trellis-wg --version
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
)

// Version is trellis-wg's own version.
const Version = "0.1.0"

// SourceDigest is set by scripts/install-trellis-wg.sh (-ldflags -X main.SourceDigest=…): a hash
// of the sources it was built from, so the script knows when the installed binary is current.
var SourceDigest = "unknown"

const wireguardModule = "golang.zx2c4.com/wireguard"

// wireguardModuleVersion is the version of the wireguard module this binary was linked with.
func wireguardModuleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == wireguardModule {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return "unknown"
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
	args := os.Args[1:]
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-v") {
		fmt.Printf("trellis-wg v%s (source %s)\n%s %s\n%s %s/%s\n", Version, SourceDigest, wireguardModule, wireguardModuleVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
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
