package amqp

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/roadrunner-server/api/v4/plugins/v1/status"
	jobsImpl "github.com/roadrunner-server/jobs/v4"
)

// pipelineConfig parses jobs.pipelines.p of a .rr.yaml the way DriverFromConfig does.
func pipelineConfig(t *testing.T, yaml string) (*PipelineConfig, error) {
	t.Helper()
	cfg := newConfig(t, yaml)
	p := newPlugin(t, cfg)
	pipes := pipelines(t, cfg)
	pipe, ok := pipes["p"]
	if !ok {
		t.Fatal("the test config has no pipeline p")
	}
	return p.configFromConfig("jobs.pipelines.p.config", pipe)
}

func TestPipelineConfig(t *testing.T) {
	const head = "version: '3'\njobs:\n  pipelines:\n    p:\n      driver: amqp\n"

	tests := []struct {
		name  string
		yaml  string // appended to head
		check func(t *testing.T, c *PipelineConfig)
		err   string // exact error (when set)
	}{
		{
			name: "defaults",
			yaml: "      config:\n        queue: jobs-q\n",
			check: func(t *testing.T, c *PipelineConfig) {
				want := PipelineConfig{
					Name: "p", Queue: "jobs-q", Exchange: "amqp.default", ExchangeType: "direct", RoutingKey: "jobs-q",
					Prefetch: 10, Priority: 10, RequeueOnFail: true, RedialTimeout: 60 * time.Second,
					DeadLetterAfter: 5, DeadLetterQueue: "jobs-q.dead", ConsumerID: c.ConsumerID,
				}
				if !reflect.DeepEqual(*c, want) {
					t.Fatalf("got  %+v\nwant %+v", *c, want)
				}
				if !strings.HasPrefix(c.ConsumerID, "roadrunner-") {
					t.Fatalf("consumer id %q", c.ConsumerID)
				}
			},
		},
		{
			name: "every key",
			yaml: `      config:
        queue: q
        exchange: ex
        exchange_type: TOPIC
        routing_key: "jobs.*"
        prefetch: 3
        priority: 7
        durable: true
        exclusive: true
        queue_auto_delete: true
        exchange_durable: true
        exchange_auto_delete: true
        delete_queue_on_stop: true
        multiple_ack: true
        requeue_on_fail: false
        redial_timeout: 5
        consumer_id: me
        dead_letter_after: 2
        dead_letter_queue: graveyard
        queue_headers:
          x-max-priority: 10
          x-queue-mode: lazy
`,
			check: func(t *testing.T, c *PipelineConfig) {
				want := PipelineConfig{
					Name: "p", Queue: "q", Exchange: "ex", ExchangeType: "topic", RoutingKey: "jobs.*",
					Prefetch: 3, Priority: 7, Durable: true, Exclusive: true, QueueAutoDelete: true,
					ExchangeDurable: true, ExchangeAutoDelete: true, DeleteQueueOnStop: true, MultipleAck: true,
					RequeueOnFail: false, RedialTimeout: 5 * time.Second, ConsumerID: "me",
					DeadLetterAfter: 2, DeadLetterQueue: "graveyard",
					QueueHeaders: amqp.Table{"x-max-priority": int64(10), "x-queue-mode": "lazy"},
				}
				if !reflect.DeepEqual(*c, want) {
					t.Fatalf("got  %+v\nwant %+v", *c, want)
				}
			},
		},
		{
			name: "durations and strings",
			yaml: "      config:\n        queue: q\n        redial_timeout: 500ms\n        prefetch: '4'\n        durable: 'true'\n",
			check: func(t *testing.T, c *PipelineConfig) {
				if c.RedialTimeout != 500*time.Millisecond || c.Prefetch != 4 || !c.Durable {
					t.Fatalf("%+v", c)
				}
			},
		},
		{
			name: "flat keys beside driver (RoadRunner 2.x)",
			yaml: "      queue: flat-q\n      prefetch: 2\n",
			check: func(t *testing.T, c *PipelineConfig) {
				if c.Queue != "flat-q" || c.Prefetch != 2 || c.RoutingKey != "flat-q" {
					t.Fatalf("%+v", c)
				}
			},
		},
		{
			name: "config section wins over flat keys",
			yaml: "      queue: flat-q\n      config:\n        queue: inner-q\n",
			check: func(t *testing.T, c *PipelineConfig) {
				if c.Queue != "inner-q" {
					t.Fatalf("%+v", c)
				}
			},
		},
		{
			name: "unknown keys are reported",
			yaml: "      config:\n        queue: q\n        exchange_typ: fanout\n",
			check: func(t *testing.T, c *PipelineConfig) {
				if !reflect.DeepEqual(c.Unknown, []string{"jobs.pipelines.p.config.exchange_typ"}) {
					t.Fatalf("unknown %v", c.Unknown)
				}
			},
		},
		{
			name: "bad exchange type",
			yaml: "      config:\n        queue: q\n        exchange_type: x\n",
			err:  `jobs.pipelines.p.config.exchange_type: "x" is not one of direct, topic, fanout, headers`,
		},
		{
			name: "no queue",
			yaml: "      config:\n        exchange: ex\n",
			err:  "jobs.pipelines.p.config.queue: required (the queue this pipeline publishes to and consumes from)",
		},
		{
			name: "prefetch zero",
			yaml: "      config:\n        queue: q\n        prefetch: 0\n",
			err:  "jobs.pipelines.p.config.prefetch: 0 must be between 1 and 65535",
		},
		{
			name: "prefetch not a number",
			yaml: "      config:\n        queue: q\n        prefetch: lots\n",
			err:  `jobs.pipelines.p.config.prefetch: must be an integer, got "lots"`,
		},
		{
			name: "priority negative",
			yaml: "      config:\n        queue: q\n        priority: -1\n",
			err:  "jobs.pipelines.p.config.priority: -1 must be at least 1",
		},
		{
			name: "bool",
			yaml: "      config:\n        queue: q\n        durable: maybe\n",
			err:  `jobs.pipelines.p.config.durable: must be true or false, got "maybe"`,
		},
		{
			name: "redial timeout",
			yaml: "      config:\n        queue: q\n        redial_timeout: soon\n",
			err:  `jobs.pipelines.p.config.redial_timeout: must be seconds or a duration like 500ms or 1m, got "soon"`,
		},
		{
			name: "redial timeout negative",
			yaml: "      config:\n        queue: q\n        redial_timeout: -3\n",
			err:  "jobs.pipelines.p.config.redial_timeout: must be positive, got -3",
		},
		{
			name: "dead letter after",
			yaml: "      config:\n        queue: q\n        dead_letter_after: 0\n",
			err:  "jobs.pipelines.p.config.dead_letter_after: 0 must be between 1 and 2147483647",
		},
		{
			name: "dead letter queue is the queue",
			yaml: "      config:\n        queue: q\n        dead_letter_queue: q\n",
			err:  `jobs.pipelines.p.config.dead_letter_queue: must differ from the queue "q"`,
		},
		{
			name: "queue headers not a map",
			yaml: "      config:\n        queue: q\n        queue_headers: [1, 2]\n",
			err:  "jobs.pipelines.p.config.queue_headers: must be a map, got []interface {}",
		},
		{
			name: "reserved exchange",
			yaml: "      config:\n        queue: q\n        exchange: amq.fanout\n",
			err:  `jobs.pipelines.p.config.exchange: "amq.fanout" is a reserved name (amq.*)`,
		},
		{
			name: "queue is a map",
			yaml: "      config:\n        queue:\n          name: q\n",
			err:  "jobs.pipelines.p.config.queue: must be a string, got map[string]interface {}",
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := pipelineConfig(t, head+tc.yaml)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("no error, want %q (config %+v)", tc.err, c)
				}
				if err.Error() != tc.err {
					t.Fatalf("error\n got %q\nwant %q", err.Error(), tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// A pipeline declared over RPC (jobs.Declare) carries strings only, queue_headers as JSON,
// and the priority the jobs plugin parsed.
func TestDeclaredPipelineConfig(t *testing.T) {
	pipe := jobsImpl.Pipeline{
		"name": "dyn", "driver": "amqp", "queue": "dq", "prefetch": "3", "durable": "true",
		"exchange_type": "fanout", "queue_headers": `{"x-max-priority": 10, "x-queue-mode": "lazy"}`,
		"redial_timeout": "2", "priority": int64(5), "dead_letter_after": "9",
	}
	c, err := configFromPipeline(pipe)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "dyn" || c.Queue != "dq" || c.Prefetch != 3 || !c.Durable || c.ExchangeType != "fanout" ||
		c.RedialTimeout != 2*time.Second || c.Priority != 5 || c.DeadLetterAfter != 9 {
		t.Fatalf("%+v", c)
	}
	if !reflect.DeepEqual(c.QueueHeaders, amqp.Table{"x-max-priority": int64(10), "x-queue-mode": "lazy"}) {
		t.Fatalf("queue headers %#v", c.QueueHeaders)
	}

	pipe["queue_headers"] = "{nope"
	if _, err := configFromPipeline(pipe); err == nil || !strings.HasPrefix(err.Error(), "jobs.pipelines.dyn.queue_headers: must be a map (or a JSON object)") {
		t.Fatalf("error %v", err)
	}

	pipe["queue_headers"] = ""
	pipe["exchange_type"] = "bogus"
	if _, err := configFromPipeline(pipe); err == nil || err.Error() != `jobs.pipelines.dyn.exchange_type: "bogus" is not one of direct, topic, fanout, headers` {
		t.Fatalf("error %v", err)
	}
}

func TestGlobalConfig(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		yaml string
		err  string
		addr string
		tls  bool
	}{
		{name: "no section", yaml: "version: '3'\n", addr: defaultAddr},
		{name: "addr", yaml: "version: '3'\namqp:\n  addr: amqp://u:p@rabbit:5673/vh\n", addr: "amqp://u:p@rabbit:5673/vh"},
		{name: "bad scheme", yaml: "version: '3'\namqp:\n  addr: http://u:secret@rabbit/\n",
			err: `amqp.addr: "http://u:xxxxx@rabbit/" is not an AMQP URI: AMQP scheme must be either 'amqp://' or 'amqps://'`},
		{name: "tls on amqp://", yaml: "version: '3'\namqp:\n  addr: amqp://rabbit/\n  tls:\n    root_ca: " + garbage + "\n",
			err: `amqp.tls: TLS is configured but amqp.addr "amqp://rabbit/" uses amqp://; use amqps://`},
		{name: "key without cert", yaml: "version: '3'\namqp:\n  addr: amqps://rabbit/\n  tls:\n    key: " + missing + "\n",
			err: "amqp.tls.cert: required with amqp.tls.key"},
		{name: "missing files", yaml: "version: '3'\namqp:\n  addr: amqps://rabbit/\n  tls:\n    key: " + missing + "\n    cert: " + missing + "\n",
			err: "stat " + missing + ": no such file or directory"},
		{name: "root ca not pem", yaml: "version: '3'\namqp:\n  addr: amqps://rabbit/\n  tls:\n    root_ca: " + garbage + "\n",
			err: "amqp.tls.root_ca: " + garbage + " holds no PEM certificate"},
		{name: "client auth type", yaml: "version: '3'\namqp:\n  addr: amqps://rabbit/\n  tls:\n    client_auth_type: sometimes\n",
			err: `amqp.tls.client_auth_type: "sometimes" is not one of no_client_cert, request_client_cert, require_any_client_cert, verify_client_cert_if_given, require_and_verify_client_cert`},
		{name: "amqps with client auth type only", yaml: "version: '3'\namqp:\n  addr: amqps://rabbit/\n  tls:\n    client_auth_type: no_client_cert\n",
			addr: "amqps://rabbit/", tls: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &Plugin{}
			err := p.Init(newConfig(t, tc.yaml), newTestLog())
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error\n got %v\nwant …%s", err, tc.err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("the error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.global.Addr != tc.addr || (p.tls != nil) != tc.tls {
				t.Fatalf("addr %q tls %v", p.global.Addr, p.tls != nil)
			}
		})
	}
}

// Without amqp pipelines the plugin is ready and healthy.
func TestReadyWithoutPipelines(t *testing.T) {
	p := newPlugin(t, newConfig(t, "version: '3'\n"))
	for name, check := range map[string]func() (*status.Status, error){"Ready": p.Ready, "Status": p.Status} {
		if st, err := check(); err != nil || st == nil || st.Code != 200 {
			t.Fatalf("%s: %+v, %v", name, st, err)
		}
	}
}
