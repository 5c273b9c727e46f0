package main

import (
	"net"
	"os"
	"time"
)

// Minimal sd_notify(3): a datagram to $NOTIFY_SOCKET when systemd runs us as
// a Type=notify service. Without the variable every call is a no-op.
const (
	sdReady     = "READY=1"
	sdStopping  = "STOPPING=1"
	sdReloading = "RELOADING=1"
	sdWatchdog  = "WATCHDOG=1"
)

// sdNotify reports whether the message was delivered; (false, nil) means
// notification is not supported (NOTIFY_SOCKET unset).
func sdNotify(state string) (bool, error) {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return false, nil
	}
	if name[0] == '@' { // abstract socket namespace
		name = "\x00" + name[1:]
	}

	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return false, err
	}
	defer func() { _ = conn.Close() }()

	if _, err = conn.Write([]byte(state)); err != nil {
		return false, err
	}

	return true, nil
}

// sdWatchdogLoop pings the systemd watchdog every interval until stop closes.
func sdWatchdogLoop(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()

	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if ok, err := sdNotify(sdWatchdog); !ok && err == nil {
				return
			}
		}
	}
}
