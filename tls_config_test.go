package pivot_test

import (
	"strings"
	"testing"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/tlscert/certtest"
)

// pivot.ssl, pivot.http2, pivot.http3: every error names the key and the fix; the files are read
// at Init, so a missing or broken certificate stops rr at start, saying which.
func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "ca")
	cert, key := ca.Server(t, "srv").Write(t, dir, "srv")
	_, otherKey := ca.Server(t, "other").Write(t, dir, "other")
	const head = "version: \"3\"\nserver:\n  command: \"php worker.php\"\npivot:\n  address: 127.0.0.1:8080\n"
	cases := []struct {
		name, body string
		want       []string
	}{
		{"no cert", "  ssl:\n    address: :8443\n    key: " + key + "\n", []string{"pivot.ssl.cert is required"}},
		{"no key", "  ssl:\n    address: :8443\n    cert: " + cert + "\n", []string{"pivot.ssl.key is required"}},
		{"missing cert file", "  ssl:\n    address: :8443\n    cert: /nonexistent.crt\n    key: " + key + "\n",
			[]string{`pivot.ssl.cert "/nonexistent.crt" cannot be read`}},
		{"missing key file", "  ssl:\n    address: :8443\n    cert: " + cert + "\n    key: /nonexistent.key\n",
			[]string{`pivot.ssl.key "/nonexistent.key" cannot be read`}},
		{"cert and key swapped", "  ssl:\n    address: :8443\n    cert: " + key + "\n    key: " + cert + "\n",
			[]string{"pivot.ssl.cert", "holds no PEM certificate"}},
		{"key of another cert", "  ssl:\n    address: :8443\n    cert: " + cert + "\n    key: " + otherKey + "\n",
			[]string{"pivot.ssl.cert", "pivot.ssl.key", "is the key the certificate's?"}},
		{"bad address", "  ssl:\n    address: 8443\n    cert: " + cert + "\n    key: " + key + "\n", []string{`pivot.ssl.address "8443" is not a host:port`}},
		{"same address", "  ssl:\n    address: 127.0.0.1:8080\n    cert: " + cert + "\n    key: " + key + "\n", []string{"is pivot.address too"}},
		{"bad client auth", "  ssl:\n    address: :8443\n    cert: " + cert + "\n    key: " + key + "\n    root_ca: " + cert + "\n    client_auth_type: always\n",
			[]string{`pivot.ssl.client_auth_type "always" is not one of`, "require_and_verify_client_cert"}},
		{"verify without root_ca", "  ssl:\n    address: :8443\n    cert: " + cert + "\n    key: " + key + "\n    client_auth_type: require_and_verify_client_cert\n",
			[]string{"set pivot.ssl.root_ca"}},
		{"missing root_ca", "  ssl:\n    address: :8443\n    cert: " + cert + "\n    key: " + key + "\n    root_ca: /nonexistent-ca.crt\n",
			[]string{`pivot.ssl.root_ca "/nonexistent-ca.crt" cannot be read`}},
		{"typo", "  ssl:\n    adress: :8443\n", []string{"pivot.ssl.adress: unknown key, did you mean address?"}},
		{"http2 typo", "  http2:\n    h2:  true\n", []string{"pivot.http2.h2: unknown key, did you mean h2c?"}},
		{"http3 without ssl", "  http3:\n    address: :8443\n", []string{"pivot.http3 needs pivot.ssl"}},
		{"http3 without address", "  ssl:\n    address: :8443\n    cert: " + cert + "\n    key: " + key + "\n  http3: {}\n", []string{"pivot.http3.address is required"}},
		{"http3 bad address", "  ssl:\n    address: :8443\n    cert: " + cert + "\n    key: " + key + "\n  http3:\n    address: udp\n", []string{`pivot.http3.address "udp" is not a host:port`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := initWith(t, head+tc.body)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := initWith(t, head+"  ssl:\n    address: :8443\n    cert: "+cert+"\n    key: "+key+"\n    redirect: true\n  http2:\n    h2c: true\n    max_concurrent_streams: 64\n  http3:\n    address: :8443\n"); err != nil {
		t.Fatalf("a valid config: %v", err)
	}
}
