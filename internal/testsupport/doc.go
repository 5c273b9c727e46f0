// Package testsupport is what every test suite of this repository that runs real processes
// shares: the repository's root, the rr binary under test (built once per test binary), free
// ports on 127.0.0.1, polling, HTTP round trips, a running `rr serve`, the real servers (Redis,
// memcached, RabbitMQ) and the headless chromium (go-rod) some suites need. It is imported by
// _test.go files only.
package testsupport
