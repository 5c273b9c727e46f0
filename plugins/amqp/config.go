package amqp

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

const (
	defaultAddr            = "amqp://guest:guest@127.0.0.1:5672/"
	defaultExchange        = "amqp.default"
	defaultExchangeType    = "direct"
	defaultPrefetch        = 10
	defaultPriority        = 10
	defaultRedialTimeout   = 60 * time.Second
	defaultDeadLetterAfter = 5
	deadLetterSuffix       = ".dead"
	maxPrefetch            = math.MaxUint16 // basic.qos prefetch-count is a short
)

// Pipeline keys (under jobs.pipelines.<name>.config, or flat in a pipeline declared over RPC).
const (
	keyQueue              = "queue"
	keyExchange           = "exchange"
	keyExchangeType       = "exchange_type"
	keyRoutingKey         = "routing_key"
	keyPrefetch           = "prefetch"
	keyPriority           = "priority"
	keyDurable            = "durable"
	keyExclusive          = "exclusive"
	keyQueueAutoDelete    = "queue_auto_delete"
	keyExchangeDurable    = "exchange_durable"
	keyExchangeAutoDelete = "exchange_auto_delete"
	keyDeleteQueueOnStop  = "delete_queue_on_stop"
	keyMultipleAck        = "multiple_ack"
	keyRequeueOnFail      = "requeue_on_fail"
	keyRedialTimeout      = "redial_timeout"
	keyQueueHeaders       = "queue_headers"
	keyConsumerID         = "consumer_id"
	keyDeadLetterAfter    = "dead_letter_after"
	keyDeadLetterQueue    = "dead_letter_queue"
)

var exchangeTypes = []string{"direct", "topic", "fanout", "headers"}

// pipelineKeys are the keys a pipeline config section may hold; others are reported (logged) as
// unknown, so that a typo does not pass silently.
var pipelineKeys = map[string]struct{}{
	keyQueue: {}, keyExchange: {}, keyExchangeType: {}, keyRoutingKey: {}, keyPrefetch: {},
	keyPriority: {}, keyDurable: {}, keyExclusive: {}, keyQueueAutoDelete: {}, keyExchangeDurable: {},
	keyExchangeAutoDelete: {}, keyDeleteQueueOnStop: {}, keyMultipleAck: {}, keyRequeueOnFail: {},
	keyRedialTimeout: {}, keyQueueHeaders: {}, keyConsumerID: {}, keyDeadLetterAfter: {},
	keyDeadLetterQueue: {},
}

// GlobalConfig is the top-level `amqp:` section: where the broker is and how to reach it.
type GlobalConfig struct {
	// Addr is the broker URI, amqp:// or amqps://. Default amqp://guest:guest@127.0.0.1:5672/.
	Addr string `mapstructure:"addr"`
	// TLS configures amqps:// connections.
	TLS *TLSConfig `mapstructure:"tls"`
}

// TLSConfig is `amqp.tls`.
type TLSConfig struct {
	// Key and Cert are the client certificate (both or neither).
	Key  string `mapstructure:"key"`
	Cert string `mapstructure:"cert"`
	// RootCA is a PEM file with the CA(s) that signed the broker's certificate, added to the
	// system pool.
	RootCA string `mapstructure:"root_ca"`
	// ClientAuthType is accepted for compatibility with RoadRunner's amqp plugin. It is a
	// server-side setting in crypto/tls and has no effect on a client connection; it is
	// validated only.
	ClientAuthType string `mapstructure:"client_auth_type"`
}

var clientAuthTypes = map[string]tls.ClientAuthType{
	"":                               tls.NoClientCert,
	"no_client_cert":                 tls.NoClientCert,
	"request_client_cert":            tls.RequestClientCert,
	"require_any_client_cert":        tls.RequireAnyClientCert,
	"verify_client_cert_if_given":    tls.VerifyClientCertIfGiven,
	"require_and_verify_client_cert": tls.RequireAndVerifyClientCert,
}

// validate checks the global section, fills the default address and builds the TLS client
// config (nil for plain amqp://). Errors name the key (amqp.addr, amqp.tls.key, ...).
func (g *GlobalConfig) validate() (*tls.Config, error) {
	if g.Addr == "" {
		g.Addr = defaultAddr
	}

	uri, err := amqp.ParseURI(g.Addr)
	if err != nil {
		return nil, fmt.Errorf("amqp.addr: %q is not an AMQP URI: %w", redactAddr(g.Addr), err)
	}

	if g.TLS == nil || (g.TLS.Key == "" && g.TLS.Cert == "" && g.TLS.RootCA == "" && g.TLS.ClientAuthType == "") {
		g.TLS = nil
		return nil, nil
	}

	if uri.Scheme != "amqps" {
		return nil, fmt.Errorf("amqp.tls: TLS is configured but amqp.addr %q uses %s://; use amqps://", redactAddr(g.Addr), uri.Scheme)
	}

	if _, ok := clientAuthTypes[g.TLS.ClientAuthType]; !ok {
		return nil, fmt.Errorf("amqp.tls.client_auth_type: %q is not one of no_client_cert, request_client_cert, require_any_client_cert, verify_client_cert_if_given, require_and_verify_client_cert", g.TLS.ClientAuthType)
	}

	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}

	switch {
	case g.TLS.Key != "" && g.TLS.Cert != "":
		for key, file := range map[string]string{"amqp.tls.key": g.TLS.Key, "amqp.tls.cert": g.TLS.Cert} {
			if _, err := os.Stat(file); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
		}
		cert, err := tls.LoadX509KeyPair(g.TLS.Cert, g.TLS.Key)
		if err != nil {
			return nil, fmt.Errorf("amqp.tls.cert/amqp.tls.key: %w", err)
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	case g.TLS.Key != "":
		return nil, fmt.Errorf("amqp.tls.cert: required with amqp.tls.key")
	case g.TLS.Cert != "":
		return nil, fmt.Errorf("amqp.tls.key: required with amqp.tls.cert")
	}

	if g.TLS.RootCA != "" {
		pem, err := os.ReadFile(g.TLS.RootCA)
		if err != nil {
			return nil, fmt.Errorf("amqp.tls.root_ca: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("amqp.tls.root_ca: %s holds no PEM certificate", g.TLS.RootCA)
		}
		tlsCfg.RootCAs = pool
	}

	return tlsCfg, nil
}

// PipelineConfig is one pipeline's settings, validated and with defaults filled.
type PipelineConfig struct {
	// Name is the pipeline's name (jobs.pipelines.<name>).
	Name string

	Queue        string
	Exchange     string
	ExchangeType string
	RoutingKey   string

	Prefetch int
	Priority int64

	Durable            bool
	Exclusive          bool
	QueueAutoDelete    bool
	ExchangeDurable    bool
	ExchangeAutoDelete bool
	DeleteQueueOnStop  bool
	MultipleAck        bool
	RequeueOnFail      bool

	// RedialTimeout caps the exponential backoff between two reconnection attempts.
	RedialTimeout time.Duration
	QueueHeaders  amqp.Table
	ConsumerID    string

	// DeadLetterAfter is how many failed runs (Nack / Requeue) a job gets before it is moved
	// to DeadLetterQueue.
	DeadLetterAfter int
	DeadLetterQueue string

	// Unknown lists keys of the section that the driver does not know (logged as a warning).
	Unknown []string
}

// source looks pipeline keys up; where(key) names the key in errors.
type source struct {
	layers []layer
}

type layer struct {
	prefix string // e.g. jobs.pipelines.foo.config
	get    func(key string) any
	keys   func() []string // for reporting unknown keys; nil: not checked
}

func mapLayer(prefix string, m map[string]any, checkKeys bool) layer {
	l := layer{prefix: prefix, get: func(key string) any { return m[key] }}
	if checkKeys {
		l.keys = func() []string {
			out := make([]string, 0, len(m))
			for k := range m {
				out = append(out, k)
			}
			return out
		}
	}
	return l
}

func (s source) get(key string) (any, string, bool) {
	for _, l := range s.layers {
		if v := l.get(key); v != nil {
			return v, l.prefix + "." + key, true
		}
	}
	return nil, "", false
}

// parsePipelineConfig validates and fills a pipeline config from the given layers (the first
// layer holding a key wins).
func parsePipelineConfig(name string, src source) (*PipelineConfig, error) {
	c := &PipelineConfig{Name: name}
	var err error

	str := func(key, def string) string {
		if err != nil {
			return def
		}
		v, where, ok := src.get(key)
		if !ok {
			return def
		}
		var s string
		s, err = asString(where, v)
		if s == "" {
			return def
		}
		return s
	}
	boolean := func(key string, def bool) bool {
		if err != nil {
			return def
		}
		v, where, ok := src.get(key)
		if !ok {
			return def
		}
		var b bool
		b, err = asBool(where, v)
		return b
	}
	integer := func(key string, def, minimum, maximum int64) int64 {
		if err != nil {
			return def
		}
		v, where, ok := src.get(key)
		if !ok {
			return def
		}
		if s, isStr := v.(string); isStr && strings.TrimSpace(s) == "" {
			return def
		}
		var i int64
		i, err = asInt(where, v)
		if err == nil && (i < minimum || i > maximum) {
			if maximum == math.MaxInt64 {
				err = fmt.Errorf("%s: %d must be at least %d", where, i, minimum)
			} else {
				err = fmt.Errorf("%s: %d must be between %d and %d", where, i, minimum, maximum)
			}
		}
		return i
	}

	c.Queue = str(keyQueue, "")
	c.Exchange = str(keyExchange, defaultExchange)
	c.ExchangeType = strings.ToLower(str(keyExchangeType, defaultExchangeType))
	c.RoutingKey = str(keyRoutingKey, "")
	c.Prefetch = int(integer(keyPrefetch, defaultPrefetch, 1, maxPrefetch))
	c.Priority = integer(keyPriority, defaultPriority, 1, math.MaxInt64)
	c.Durable = boolean(keyDurable, false)
	c.Exclusive = boolean(keyExclusive, false)
	c.QueueAutoDelete = boolean(keyQueueAutoDelete, false)
	c.ExchangeDurable = boolean(keyExchangeDurable, false)
	c.ExchangeAutoDelete = boolean(keyExchangeAutoDelete, false)
	c.DeleteQueueOnStop = boolean(keyDeleteQueueOnStop, false)
	c.MultipleAck = boolean(keyMultipleAck, false)
	c.RequeueOnFail = boolean(keyRequeueOnFail, true)
	c.ConsumerID = str(keyConsumerID, "")
	c.DeadLetterAfter = int(integer(keyDeadLetterAfter, defaultDeadLetterAfter, 1, math.MaxInt32))
	c.DeadLetterQueue = str(keyDeadLetterQueue, "")
	if err != nil {
		return nil, err
	}

	if v, where, ok := src.get(keyRedialTimeout); ok {
		if c.RedialTimeout, err = asDuration(where, v); err != nil {
			return nil, err
		}
	}
	if c.RedialTimeout == 0 {
		c.RedialTimeout = defaultRedialTimeout
	}

	if v, where, ok := src.get(keyQueueHeaders); ok {
		if c.QueueHeaders, err = asTable(where, v); err != nil {
			return nil, err
		}
	}

	where := func(key string) string {
		if _, w, ok := src.get(key); ok {
			return w
		}
		if len(src.layers) > 0 {
			return src.layers[0].prefix + "." + key
		}
		return key
	}

	if c.Queue == "" {
		return nil, fmt.Errorf("%s: required (the queue this pipeline publishes to and consumes from)", where(keyQueue))
	}
	if !contains(exchangeTypes, c.ExchangeType) {
		return nil, fmt.Errorf("%s: %q is not one of %s", where(keyExchangeType), c.ExchangeType, strings.Join(exchangeTypes, ", "))
	}
	if strings.HasPrefix(c.Exchange, "amq.") && c.Exchange != "amq."+c.ExchangeType {
		// amq.* names are reserved; the predeclared ones can be used with their own type only.
		return nil, fmt.Errorf("%s: %q is a reserved name (amq.*)", where(keyExchange), c.Exchange)
	}
	if c.RoutingKey == "" {
		c.RoutingKey = c.Queue
	}
	if c.DeadLetterQueue == "" {
		c.DeadLetterQueue = c.Queue + deadLetterSuffix
	}
	if c.DeadLetterQueue == c.Queue {
		return nil, fmt.Errorf("%s: must differ from the queue %q", where(keyDeadLetterQueue), c.Queue)
	}
	if c.ConsumerID == "" {
		c.ConsumerID = "roadrunner-" + randomID()
	}

	for _, l := range src.layers {
		if l.keys == nil {
			continue
		}
		for _, k := range l.keys() {
			if _, ok := pipelineKeys[k]; !ok {
				c.Unknown = append(c.Unknown, l.prefix+"."+k)
			}
		}
	}
	sort.Strings(c.Unknown)

	return c, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func asString(where string, v any) (string, error) {
	switch t := v.(type) {
	case string:
		return strings.TrimSpace(t), nil
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(t), nil
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), nil
	default:
		return "", fmt.Errorf("%s: must be a string, got %T", where, v)
	}
}

func asBool(where string, v any) (bool, error) {
	switch t := v.(type) {
	case bool:
		return t, nil
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(t))
		if err != nil {
			return false, fmt.Errorf("%s: must be true or false, got %q", where, t)
		}
		return b, nil
	case int:
		if t == 0 || t == 1 {
			return t == 1, nil
		}
	}
	return false, fmt.Errorf("%s: must be true or false, got %v", where, v)
}

func asInt(where string, v any) (int64, error) {
	switch t := v.(type) {
	case int:
		return int64(t), nil
	case int8:
		return int64(t), nil
	case int16:
		return int64(t), nil
	case int32:
		return int64(t), nil
	case int64:
		return t, nil
	case uint8:
		return int64(t), nil
	case uint16:
		return int64(t), nil
	case uint32:
		return int64(t), nil
	case uint:
		if uint64(t) <= math.MaxInt64 {
			return int64(t), nil
		}
	case uint64:
		if t <= math.MaxInt64 {
			return int64(t), nil
		}
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int64(t), nil
		}
	case float32:
		if f := float64(t); f == math.Trunc(f) && math.Abs(f) < 1<<24 {
			return int64(f), nil
		}
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
		if err == nil {
			return i, nil
		}
		return 0, fmt.Errorf("%s: must be an integer, got %q", where, t)
	}
	return 0, fmt.Errorf("%s: must be an integer, got %v", where, v)
}

// asDuration reads a number of seconds (60, "60") or a Go duration ("1m", "500ms").
func asDuration(where string, v any) (time.Duration, error) {
	var d time.Duration
	switch t := v.(type) {
	case string:
		s := strings.TrimSpace(t)
		if s == "" {
			return 0, nil
		}
		if n, err := strconv.ParseFloat(s, 64); err == nil {
			d = time.Duration(n * float64(time.Second))
		} else {
			var perr error
			d, perr = time.ParseDuration(s)
			if perr != nil {
				return 0, fmt.Errorf("%s: must be seconds or a duration like 500ms or 1m, got %q", where, t)
			}
		}
	case float64:
		d = time.Duration(t * float64(time.Second))
	case float32:
		d = time.Duration(float64(t) * float64(time.Second))
	default:
		n, err := asInt(where, v)
		if err != nil {
			return 0, fmt.Errorf("%s: must be seconds or a duration like 500ms or 1m, got %v", where, v)
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s: must be positive, got %v", where, v)
	}
	return d, nil
}

// asTable turns queue_headers (a YAML map, or a JSON object string from jobs.Declare) into
// queue-declare arguments. Integral numbers become int64 (RabbitMQ rejects floats for
// x-max-priority, x-message-ttl, ...).
func asTable(where string, v any) (amqp.Table, error) {
	if s, ok := v.(string); ok {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, nil
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, fmt.Errorf("%s: must be a map (or a JSON object), got %q: %w", where, s, err)
		}
		v = m
	}

	t, err := toTableValue(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	tbl, ok := t.(amqp.Table)
	if !ok {
		return nil, fmt.Errorf("%s: must be a map, got %T", where, v)
	}
	if err := tbl.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return tbl, nil
}

func toTableValue(v any) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		out := make(amqp.Table, len(t))
		for k, vv := range t {
			c, err := toTableValue(vv)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = c
		}
		return out, nil
	case map[any]any:
		out := make(amqp.Table, len(t))
		for k, vv := range t {
			c, err := toTableValue(vv)
			if err != nil {
				return nil, fmt.Errorf("%v: %w", k, err)
			}
			out[fmt.Sprint(k)] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, vv := range t {
			c, err := toTableValue(vv)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case int:
		return int64(t), nil
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int64(t), nil
		}
		return t, nil
	case nil, bool, string, int32, int64, []byte:
		return t, nil
	default:
		return nil, fmt.Errorf("unsupported value %v (%T)", v, v)
	}
}

// redactAddr hides the password of a broker URI (for logs and errors).
func redactAddr(addr string) string {
	u, err := url.Parse(addr)
	if err != nil {
		return "<unparsable address>"
	}
	return u.Redacted()
}
