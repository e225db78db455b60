package shared

import (
	"strings"
	"testing"
)

func TestPinnedByDigest(t *testing.T) {
	digest := "@sha256:" + strings.Repeat("0f", 32)
	for ref, want := range map[string]bool{
		"ghcr.io/acme/greeter" + digest:       true,
		"ghcr.io/acme/greeter:1.2.3" + digest: true,
		"ghcr.io/acme/greeter:1.2.3":          false,
		"ghcr.io/acme/greeter@sha256:abc":     false,
		"ghcr.io/acme/greeter" + digest + "x": false,
	} {
		if got := PinnedByDigest(ref); got != want {
			t.Errorf("PinnedByDigest(%q) = %v, want %v", ref, got, want)
		}
	}
}

func TestBoundedResources(t *testing.T) {
	for _, tc := range []struct {
		requests, limits map[string]any
		want             string
	}{
		{map[string]any{"cpu": "50m", "memory": "64Mi"}, map[string]any{"cpu": 1.0, "memory": "128Mi"}, ""},
		{map[string]any{"cpu": "50m", "memory": Unknown{}}, map[string]any{"cpu": "1", "memory": "128Mi"}, ""},
		{map[string]any{"cpu": "50m"}, map[string]any{"cpu": "1", "memory": "128Mi"}, "requests.memory: (missing): must be a positive Kubernetes quantity"},
		{map[string]any{"cpu": "50m", "memory": "64Mi"}, map[string]any{"cpu": "1", "memory": "lots"}, `limits.memory: "lots": must be a positive`},
		{map[string]any{"cpu": "50m", "memory": "64Mi"}, map[string]any{"cpu": "0", "memory": "128Mi"}, `limits.cpu: "0": must be a positive`},
		{map[string]any{"cpu": "2", "memory": "64Mi"}, map[string]any{"cpu": "1", "memory": "128Mi"}, `limits.cpu: "1": must be at least the request "2"`},
	} {
		got := BoundedResources(tc.requests, tc.limits, "cpu", "memory").Err()
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("%v, %v: %v", tc.requests, tc.limits, got)
		case tc.want != "" && (got == nil || !strings.Contains(got.Error(), tc.want)):
			t.Errorf("%v, %v: got %v, want %q", tc.requests, tc.limits, got, tc.want)
		}
	}
}

func TestSameCheck(t *testing.T) {
	live := map[string]any{"httpGet": map[string]any{"path": "/healthz", "port": 8080.0}, "periodSeconds": 10.0}
	if !SameCheck(live, map[string]any{"httpGet": map[string]any{"path": "/healthz", "port": 8080.0}, "periodSeconds": 5.0}) {
		t.Error("two probes of the same endpoint with other timings are not the same check")
	}
	if SameCheck(live, map[string]any{"httpGet": map[string]any{"path": "/readyz", "port": 8080.0}}) {
		t.Error("probes of /healthz and /readyz are the same check")
	}
	if SameCheck(live, map[string]any{"tcpSocket": map[string]any{"port": 8080.0}}) {
		t.Error("an HTTP and a TCP probe are the same check")
	}
}

// A limit below its request is refused without quoting secret quantities.
func TestBoundedResourcesNeverShowsSecrets(t *testing.T) {
	got := BoundedResources(map[string]any{"cpu": Secret{Value: "1234m"}}, map[string]any{"cpu": Secret{Value: "1233m"}}, "cpu").Err()
	if got == nil || !strings.Contains(got.Error(), "limits.cpu: [secret]: must be at least the request [secret]") {
		t.Errorf("got %v", got)
	}
}
