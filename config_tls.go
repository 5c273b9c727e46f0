package pivot

import (
	"crypto/tls"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/tlscert"
)

// SSLConfig is `pivot.ssl`: HTTPS beside pivot.address, with RoadRunner's http.ssl keys
// (HTTP/2 and HTTP/1.1 by ALPN; net/http serves it, internal/httpfront/netserver.go).
type SSLConfig struct {
	// Address is the HTTPS listener's host:port (default 127.0.0.1:443, as RoadRunner's).
	Address string `mapstructure:"address"`
	// Cert and Key are PEM files (the certificate chain, the private key), reloaded when they
	// change and on `rr reset`.
	Cert string `mapstructure:"cert"`
	Key  string `mapstructure:"key"`
	// RootCA, when set, is a PEM bundle of CAs that client certificates are verified against
	// (mTLS); ClientAuthType says whether a client must present one (RoadRunner's names;
	// pivot's default with a root_ca is require_and_verify_client_cert).
	RootCA         string `mapstructure:"root_ca"`
	ClientAuthType string `mapstructure:"client_auth_type"`
	// Redirect makes pivot.address answer every request with a 308 to the same URL on HTTPS.
	Redirect bool `mapstructure:"redirect"`

	port int
}

// HTTP2Config is `pivot.http2`.
type HTTP2Config struct {
	// H2C serves cleartext HTTP/2 with prior knowledge on pivot.address beside HTTP/1.1.
	H2C bool `mapstructure:"h2c"`
	// MaxConcurrentStreams bounds an HTTP/2 connection's streams (default 128).
	MaxConcurrentStreams uint32 `mapstructure:"max_concurrent_streams"`
}

// HTTP3Config is `pivot.http3`: HTTP/3 over QUIC (quic-go) with pivot.ssl's certificate,
// advertised by Alt-Svc on pivot.ssl's responses.
type HTTP3Config struct {
	// Address is the UDP host:port (usually pivot.ssl.address's port: browsers look for
	// HTTP/3 where Alt-Svc says, any port).
	Address string `mapstructure:"address"`

	port int
}

func (h *HTTP3Config) valid(ssl *SSLConfig) error {
	if ssl == nil {
		return fmt.Errorf("pivot.http3 needs pivot.ssl: HTTP/3 is served with its certificate (and advertised on its responses)")
	}
	if h.Address == "" {
		return fmt.Errorf("pivot.http3.address is required: the UDP host:port to serve HTTP/3 on, e.g. the port of pivot.ssl.address")
	}
	host, port, err := net.SplitHostPort(h.Address)
	if err != nil {
		return fmt.Errorf("pivot.http3.address %q is not a host:port (%v): use e.g. 0.0.0.0:443 or :8443", h.Address, err)
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return fmt.Errorf("pivot.http3.address %q has an invalid host %q: use an IP address or a host name", h.Address, host)
	}
	n, errP := strconv.Atoi(port)
	if errP != nil || n <= 0 || n > 65535 {
		return fmt.Errorf("pivot.http3.address %q has an invalid port %q: use a number from 1 to 65535, e.g. :443", h.Address, port)
	}
	h.port = n
	return nil
}

// altSvc is the Alt-Svc header that advertises HTTP/3 (a day: a client that found it gone
// falls back to HTTP/2 by itself).
func (h *HTTP3Config) altSvc() string { return fmt.Sprintf(`h3=":%d"; ma=86400`, h.port) }

const defaultSSLAddress = "127.0.0.1:443"

// clientAuthTypes are RoadRunner's http.ssl.client_auth_type names.
var clientAuthTypes = map[string]tls.ClientAuthType{
	"no_client_cert":                 tls.NoClientCert,
	"no_client_certs":                tls.NoClientCert,
	"request_client_cert":            tls.RequestClientCert,
	"require_any_client_cert":        tls.RequireAnyClientCert,
	"verify_client_cert_if_given":    tls.VerifyClientCertIfGiven,
	"require_and_verify_client_cert": tls.RequireAndVerifyClientCert,
}

func (s *SSLConfig) initDefaults() {
	if s.Address == "" {
		s.Address = defaultSSLAddress
	}
	s.ClientAuthType = strings.ToLower(strings.TrimSpace(s.ClientAuthType))
	if s.ClientAuthType == "" && s.RootCA != "" {
		s.ClientAuthType = "require_and_verify_client_cert"
	}
}

// valid checks pivot.ssl's keys; the files themselves are read by tlsConfig (Init).
func (s *SSLConfig) valid(plainAddress string) error {
	host, port, err := net.SplitHostPort(s.Address)
	if err != nil {
		return fmt.Errorf("pivot.ssl.address %q is not a host:port (%v): use e.g. 0.0.0.0:443 or :8443", s.Address, err)
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return fmt.Errorf("pivot.ssl.address %q has an invalid host %q: use an IP address or a host name", s.Address, host)
	}
	n, errP := strconv.Atoi(port)
	if errP != nil || n < 0 || n > 65535 {
		return fmt.Errorf("pivot.ssl.address %q has an invalid port %q: use a number from 1 to 65535, e.g. :443", s.Address, port)
	}
	s.port = n
	if s.Address == plainAddress {
		return fmt.Errorf("pivot.ssl.address %q is pivot.address too: give HTTPS a port of its own, e.g. :443", s.Address)
	}
	if s.Cert == "" {
		return fmt.Errorf("pivot.ssl.cert is required: the PEM file of the server's certificate (chain)")
	}
	if s.Key == "" {
		return fmt.Errorf("pivot.ssl.key is required: the PEM file of the certificate's private key")
	}
	if _, ok := clientAuthTypes[s.ClientAuthType]; !ok && s.ClientAuthType != "" {
		names := make([]string, 0, len(clientAuthTypes))
		for k := range clientAuthTypes {
			if k != "no_client_certs" {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		return fmt.Errorf("pivot.ssl.client_auth_type %q is not one of %s", s.ClientAuthType, strings.Join(names, ", "))
	}
	if s.ClientAuthType != "" && s.RootCA == "" && clientAuthTypes[s.ClientAuthType] >= tls.VerifyClientCertIfGiven {
		return fmt.Errorf("pivot.ssl.client_auth_type %q verifies client certificates: set pivot.ssl.root_ca to the CAs they are verified against", s.ClientAuthType)
	}
	return nil
}

// tlsConfig reads the certificate, the key and root_ca: an error names the key at fault.
func (s *SSLConfig) tlsConfig() (*tls.Config, *tlscert.Pair, error) {
	pair, err := tlscert.Load(s.Cert, s.Key, tlscert.Names{Cert: "pivot.ssl.cert", Key: "pivot.ssl.key"})
	if err != nil {
		return nil, nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: pair.GetCertificate}
	if s.RootCA != "" {
		if cfg.ClientCAs, err = tlscert.CertPool(s.RootCA, "pivot.ssl.root_ca"); err != nil {
			return nil, nil, err
		}
		cfg.ClientAuth = clientAuthTypes[s.ClientAuthType]
	}
	return cfg, pair, nil
}
