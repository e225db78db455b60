package kube

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// resolve reads a plain (already known) StringMap.
func resolve(t *testing.T, m pulumi.StringMap) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range m {
		out[k] = string(v.(pulumi.String))
	}
	return out
}

func TestLabels(t *testing.T) {
	id := Identity{Name: "greeter", Instance: "greeter", Version: "1.0.0", Component: "server", PartOf: "greeter", Environment: "prod"}
	labels := resolve(t, id.Labels())
	want := map[string]string{
		"app.kubernetes.io/name": "greeter", "app.kubernetes.io/instance": "greeter",
		"app.kubernetes.io/version": "1.0.0", "app.kubernetes.io/component": "server",
		"app.kubernetes.io/part-of": "greeter", "app.kubernetes.io/managed-by": "pulumi",
		"app": "greeter", "version": "1.0.0", "environment": "prod",
	}
	for k, v := range want {
		if labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, labels[k], v)
		}
	}
	selector := resolve(t, id.SelectorLabels())
	for k := range selector {
		if k == "version" || k == "app.kubernetes.io/version" || k == "environment" {
			t.Errorf("selector uses %s, which changes over a workload's life", k)
		}
		if selector[k] != labels[k] {
			t.Errorf("selector label %s does not match the pod label", k)
		}
	}
	if _, ok := resolve(t, Identity{Name: "x", Instance: "x"}.Labels())["version"]; ok {
		t.Error("empty version still labelled")
	}
}

func TestProbesFitAGoService(t *testing.T) {
	p := Probes{Port: 8080, Startup: "/healthz", Liveness: "/healthz", Readiness: "/readyz"}
	value := intValue
	startup := p.StartupProbe()
	if budget := value(startup.PeriodSeconds) * value(startup.FailureThreshold); budget < 60 {
		t.Errorf("startup budget %ds: a slow start would be killed", budget)
	}
	live, ready := p.LivenessProbe(), p.ReadinessProbe()
	if value(ready.PeriodSeconds) > value(live.PeriodSeconds) {
		t.Error("readiness is checked less often than liveness")
	}
}

// A startup command may start a JVM: it gets the time, and the whole budget.
func TestStartupCommandHasTimeAndBudget(t *testing.T) {
	p := Probes{Port: 9092, StartupCommand: []string{"/bin/sh", "-c", "true"}, StartupSeconds: 1800}
	probe := p.StartupProbe()
	if probe.Exec == nil || probe.TcpSocket != nil || probe.HttpGet != nil {
		t.Fatalf("the startup command is not the probe: %+v", probe)
	}
	period, timeout, failures := intValue(probe.PeriodSeconds), intValue(probe.TimeoutSeconds), intValue(probe.FailureThreshold)
	if timeout < 10 || period*failures < 1800 {
		t.Errorf("startup command: %d s to run, a budget of %d s; want at least 10 s and 1800 s", timeout, period*failures)
	}
}

func intValue(in pulumi.IntPtrInput) int {
	var got int
	done := make(chan struct{})
	in.ToIntPtrOutputWithContext(context.Background()).ApplyT(func(v *int) int { got = *v; close(done); return got })
	<-done
	return got
}

func TestImageReferences(t *testing.T) {
	digest := "sha256:" + strings.Repeat("0f", 32)
	for _, ok := range []string{"greeter:1", "ghcr.io/acme/greeter:1.2.3", "localhost:5000/a/b:v1", "ghcr.io/acme/greeter@" + digest, "ghcr.io/acme/greeter:1.2.3@" + digest} {
		if err := ValidateImageReference(ok); err != nil {
			t.Errorf("%s rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "greeter", "greeter:latest", "Greeter:1", "ghcr.io/acme/greeter@sha256:short", "a b:1"} {
		if ValidateImageReference(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDNS(t *testing.T) {
	if got := (DNS{}).ServiceHost("kafka", "observability"); got != "kafka.observability.svc.cluster.local" {
		t.Errorf("default host %q", got)
	}
	if got := (DNS{Domain: "corp.internal"}).ServiceHost("kafka-0.kafka-headless", "logs"); got != "kafka-0.kafka-headless.logs.svc.corp.internal" {
		t.Errorf("host %q", got)
	}
	for _, tt := range []struct {
		dns  DNS
		cidr string
	}{{DNS{}, "169.254.20.10/32"}, {DNS{NodeLocal: "fd00::a"}, "fd00::a/128"}} {
		rule := tt.dns.Egress()
		var got string
		done := make(chan struct{})
		rule.To.ToNetworkPolicyPeerArrayOutput().Index(pulumi.Int(1)).IpBlock().Cidr().ApplyT(func(c *string) string {
			got = *c
			close(done)
			return got
		})
		<-done
		if got != tt.cidr {
			t.Errorf("%+v: the lookup rule allows %q, want %q", tt.dns, got, tt.cidr)
		}
	}
	for _, bad := range []DNS{{Domain: "Cluster_Local"}, {Domain: "a..b"}, {NodeLocal: "169.254.20"}, {NodeLocal: "fe80::1%eth0"}} {
		if len(bad.Validate()) == 0 {
			t.Errorf("%+v accepted", bad)
		}
	}
}
