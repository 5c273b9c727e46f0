// Package deploy checks the shipped deployment manifests against the configuration they carry:
// the probes reach the status plugin's endpoints for pivot, and the pod's grace period covers
// pivot.shutdown_delay plus pivot.shutdown_timeout.
package deploy

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	pivot "github.com/pivotphp/pivotphp-runtime-roadrunner"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	configImpl "github.com/roadrunner-server/config/v4"
	"github.com/roadrunner-server/endure/v2"
	"github.com/roadrunner-server/logger/v4"
	"github.com/roadrunner-server/server/v4"
	"gopkg.in/yaml.v3"
)

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
	PeriodSeconds    int `yaml:"periodSeconds"`
	FailureThreshold int `yaml:"failureThreshold"`
}

type deployment struct {
	Kind string `yaml:"kind"`
	Spec struct {
		Template struct {
			Spec struct {
				TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
				Containers                    []struct {
					Args  []string `yaml:"args"`
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					ReadinessProbe probe `yaml:"readinessProbe"`
					LivenessProbe  probe `yaml:"livenessProbe"`
					VolumeMounts   []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
				Volumes []struct {
					Name      string `yaml:"name"`
					ConfigMap struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type configMap struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
}

type service struct {
	Kind string `yaml:"kind"`
	Spec struct {
		Ports []struct {
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

// rrConfig is what the manifests must agree with in the mounted .rr.yaml.
type rrConfig struct {
	Status struct {
		Address string `yaml:"address"`
	} `yaml:"status"`
	Pivot struct {
		Address         string        `yaml:"address"`
		ShutdownDelay   time.Duration `yaml:"shutdown_delay"`
		ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	} `yaml:"pivot"`
}

func decodeFile(t *testing.T, name string, out any) {
	t.Helper()
	b, err := os.ReadFile(testsupport.RepoPath(t, "deploy/kubernetes/"+name))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err = dec.Decode(out); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("%s: %v", name, err)
	}
}

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestKubernetesManifestsAgreeWithTheirConfig(t *testing.T) {
	var (
		dep deployment
		cm  configMap
		svc service
	)
	decodeFile(t, "deployment.yaml", &dep)
	decodeFile(t, "configmap.yaml", &cm)
	decodeFile(t, "service.yaml", &svc)
	if dep.Kind != "Deployment" || cm.Kind != "ConfigMap" || svc.Kind != "Service" {
		t.Fatalf("kinds: %q %q %q", dep.Kind, cm.Kind, svc.Kind)
	}
	rrYAML, ok := cm.Data[".rr.yaml"]
	if !ok {
		t.Fatal("configmap.yaml has no .rr.yaml")
	}
	var cfg rrConfig
	if err := yaml.Unmarshal([]byte(rrYAML), &cfg); err != nil {
		t.Fatalf("the ConfigMap's .rr.yaml: %v", err)
	}
	validate(t, rrYAML)

	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["status"] != port(t, cfg.Status.Address) || ports["http"] != port(t, cfg.Pivot.Address) {
		t.Fatalf("container ports %v; status.address %s, pivot.address %s", ports, cfg.Status.Address, cfg.Pivot.Address)
	}
	for _, tc := range []struct {
		name string
		p    probe
		path string
	}{{"readiness", c.ReadinessProbe, "/ready?plugin=pivot"}, {"liveness", c.LivenessProbe, "/health?plugin=pivot"}} {
		if tc.p.HTTPGet.Path != tc.path || tc.p.HTTPGet.Port != "status" {
			t.Fatalf("%s probe: %s on port %q, want %s on the status port", tc.name, tc.p.HTTPGet.Path, tc.p.HTTPGet.Port, tc.path)
		}
	}
	// the readiness probe must see the 503 and take the pod out while the delay still serves
	if notice := time.Duration(c.ReadinessProbe.PeriodSeconds*c.ReadinessProbe.FailureThreshold) * time.Second; notice >= cfg.Pivot.ShutdownDelay {
		t.Fatalf("readiness notices the 503 after up to %s: not within pivot.shutdown_delay (%s)", notice, cfg.Pivot.ShutdownDelay)
	}
	if cfg.Pivot.ShutdownDelay <= 0 || cfg.Pivot.ShutdownTimeout <= 0 {
		t.Fatalf("the ConfigMap must set pivot.shutdown_delay and shutdown_timeout: %+v", cfg.Pivot)
	}
	grace := time.Duration(pod.TerminationGracePeriodSeconds) * time.Second
	if need := cfg.Pivot.ShutdownDelay + cfg.Pivot.ShutdownTimeout; grace <= need {
		t.Fatalf("terminationGracePeriodSeconds %s is not above shutdown_delay + shutdown_timeout (%s): Kubernetes would SIGKILL mid-drain", grace, need)
	}

	// the config is mounted where rr is told to read it
	if len(pod.Volumes) != 1 || pod.Volumes[0].ConfigMap.Name != cm.Metadata.Name || len(c.VolumeMounts) != 1 ||
		c.VolumeMounts[0].Name != pod.Volumes[0].Name {
		t.Fatalf("the ConfigMap %q is not the mounted volume: %+v %+v", cm.Metadata.Name, pod.Volumes, c.VolumeMounts)
	}
	args := strings.Join(c.Args, " ")
	if want := "-c " + c.VolumeMounts[0].MountPath + "/.rr.yaml"; !strings.Contains(args, want) {
		t.Fatalf("args %q do not read the mounted config (%s)", args, want)
	}
	if len(svc.Spec.Ports) != 1 || ports[svc.Spec.Ports[0].TargetPort] == 0 {
		t.Fatalf("the Service targets port %+v, not a container port %v", svc.Spec.Ports, ports)
	}
}

// validate runs the real config, logger, server and pivot plugins' Init on the mounted config.
func validate(t *testing.T, rrYAML string) {
	t.Helper()
	cont := endure.New(slog.LevelError)
	cfg := &configImpl.Plugin{ReadInCfg: []byte(rrYAML), Type: "yaml", Version: pivot.RRVersion}
	if err := cont.RegisterAll(cfg, &logger.Plugin{}, &server.Plugin{}, &pivot.Plugin{}); err != nil {
		t.Fatal(err)
	}
	if err := cont.Init(); err != nil {
		t.Fatalf("the ConfigMap's .rr.yaml does not pass pivot's Init: %v", err)
	}
}
