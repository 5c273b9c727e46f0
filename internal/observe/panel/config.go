package panel

import (
	"fmt"
	"net"
	"strconv"
)

const (
	defaultAddress = "127.0.0.1:6062"
	defaultErrors  = 50
)

// Config is `pivot.debug`: the debug panel. Off unless enabled.
type Config struct {
	// Enabled turns the panel on (default false).
	Enabled bool `mapstructure:"enabled"`
	// Address is where the panel listens (default 127.0.0.1:6062). A non-loopback address
	// needs a token.
	Address string `mapstructure:"address"`
	// Token, when set, is required as `Authorization: Bearer <token>` or `?token=<token>`.
	Token string `mapstructure:"token"`
	// Errors is how many recent 5xx responses the panel keeps (default 50).
	Errors int `mapstructure:"errors"`
}

// InitDefaults fills the unset values.
func (c *Config) InitDefaults() {
	if c.Address == "" {
		c.Address = defaultAddress
	}
	if c.Errors == 0 {
		c.Errors = defaultErrors
	}
}

// Valid checks the section after InitDefaults; errors name the key and the fix.
func (c *Config) Valid() error {
	if !c.Enabled {
		return nil
	}
	host, port, err := net.SplitHostPort(c.Address)
	if err != nil {
		return fmt.Errorf("pivot.debug.address %q is not a host:port (%v): use e.g. %s", c.Address, err, defaultAddress)
	}
	if n, errP := strconv.Atoi(port); errP != nil || n < 0 || n > 65535 {
		return fmt.Errorf("pivot.debug.address %q has an invalid port %q: use a number from 0 to 65535, e.g. %s", c.Address, port, defaultAddress)
	}
	if !loopbackHost(host) && c.Token == "" {
		return fmt.Errorf("pivot.debug.address %q is not a loopback address: the panel can reset workers and shows request data; set pivot.debug.token too, or listen on 127.0.0.1", c.Address)
	}
	if c.Errors < 1 || c.Errors > 10000 {
		return fmt.Errorf("pivot.debug.errors is %d: keep from 1 to 10000 recent errors (default %d)", c.Errors, defaultErrors)
	}
	return nil
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
