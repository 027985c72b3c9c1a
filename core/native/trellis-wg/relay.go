package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"

	"trellis-wg/internal/relay"
)

// runRelay serves the relay forwarder on one UDP port until SIGTERM or SIGINT. It starts with no
// key and an empty allow-list, so it forwards nothing until the relay node's agent configures it
// over the control socket.
func runRelay(args []string) int {
	fs := flag.NewFlagSet("trellis-wg relay", flag.ContinueOnError)
	port := fs.Uint("port", 0, "UDP port the relay serves (IPv4 and IPv6)")
	ctlPath := fs.String("control", "", "control socket (default /var/run/wireguard/relay-<port>.ctl)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "trellis-wg relay: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *port == 0 || *port > 65535 {
		fmt.Fprintln(os.Stderr, "trellis-wg relay: --port must be a UDP port, 1-65535")
		return 2
	}
	if *ctlPath == "" {
		*ctlPath = fmt.Sprintf("%s/relay-%d.ctl", socketDir, *port)
	}
	if err := os.MkdirAll(socketDir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "trellis-wg relay: %v\n", err)
		return 1
	}
	r := relay.New()
	srv, err := relay.Serve(r, uint16(*port))
	if err != nil {
		fmt.Fprintf(os.Stderr, "trellis-wg relay: %v\n", err)
		return 1
	}
	ctl, err := relay.ListenControl(*ctlPath, r, srv, Version)
	if err != nil {
		fmt.Fprintf(os.Stderr, "trellis-wg relay: control socket: %v\n", err)
		srv.Close()
		return 1
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, unix.SIGTERM, os.Interrupt)
	<-term
	ctl.Close()
	srv.Close()
	return 0
}
