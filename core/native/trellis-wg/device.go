package main

import (
	"fmt"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/ipc"
	"golang.zx2c4.com/wireguard/tun"

	"trellis-wg/internal/control"
	"trellis-wg/internal/demand"
	"trellis-wg/internal/filterbind"
)

// socketDir is where wireguard-go keeps its UAPI sockets; the control socket goes beside them.
const socketDir = "/var/run/wireguard"

// ControlSocketPath is the agent's socket of a device: <iface>.ctl beside <iface>.sock.
func ControlSocketPath(iface string) string { return fmt.Sprintf("%s/%s.ctl", socketDir, iface) }

// logLevel reads LOG_LEVEL as wireguard-go does.
func logLevel() int {
	switch os.Getenv("LOG_LEVEL") {
	case "verbose", "debug":
		return device.LogLevelVerbose
	case "silent":
		return device.LogLevelSilent
	}
	return device.LogLevelError
}

// runDevice serves one WireGuard interface until SIGTERM or SIGINT, the deletion of its UAPI
// socket, or the TUN going away; then it closes the device and removes its sockets.
func runDevice(iface string) int {
	rawTUN, err := tun.CreateTUN(iface, device.DefaultMTU)
	watch := demand.NewWatch()
	var tdev tun.Device
	if err == nil {
		tdev = demand.Wrap(rawTUN, watch)
	}
	if err == nil {
		if real, nerr := tdev.Name(); nerr == nil {
			iface = real
		}
	}
	logger := device.NewLogger(logLevel(), fmt.Sprintf("(%s) ", iface))
	if err != nil {
		logger.Errorf("Failed to create TUN device: %v", err)
		return 1
	}
	logger.Verbosef("Starting trellis-wg v%s (%s %s)", Version, wireguardModule, wireguardModuleVersion())

	fileUAPI, err := ipc.UAPIOpen(iface)
	if err != nil {
		logger.Errorf("UAPI listen error: %v", err)
		tdev.Close()
		return 1
	}
	ctl, err := control.ListenDevice(ControlSocketPath(iface), control.DeviceIdentity{
		Implementation: "trellis-wg", Version: Version, WireguardModule: wireguardModuleVersion(), Iface: iface,
	})
	if err != nil {
		logger.Errorf("Control socket error: %v", err)
		fileUAPI.Close()
		tdev.Close()
		return 1
	}
	bind := filterbind.New(ctl.Offer, ctl.PortChanged)
	ctl.SetSender(bind)
	ctl.SetWatch(watch)
	dev := device.NewDevice(tdev, bind, logger)
	ctl.SetHandshaker(func(pk [32]byte) error {
		peer := dev.LookupPeer(device.NoisePublicKey(pk))
		if peer == nil {
			return control.ErrNoPeer
		}
		return peer.SendHandshakeInitiation(false)
	})
	logger.Verbosef("Device started")

	uapi, err := ipc.UAPIListen(iface, fileUAPI)
	if err != nil {
		logger.Errorf("Failed to listen on uapi socket: %v", err)
		ctl.Close()
		dev.Close()
		return 1
	}
	errs := make(chan error, 1)
	go func() {
		for {
			conn, err := uapi.Accept()
			if err != nil {
				errs <- err
				return
			}
			go dev.IpcHandle(conn)
		}
	}()
	logger.Verbosef("UAPI listener started; control socket %s", ControlSocketPath(iface))

	term := make(chan os.Signal, 1)
	signal.Notify(term, unix.SIGTERM, os.Interrupt)
	select {
	case <-term:
	case <-errs:
	case <-dev.Wait():
	}
	uapi.Close()
	ctl.Close()
	dev.Close()
	logger.Verbosef("Shutting down")
	return 0
}
