// Package shared is what the policy pack shares with the program: the
// checks its rules and the components' validation both run (the component
// on its arguments, the rule on any program's resources), so the two cannot
// drift apart, and where each stack's pack config lives. It is small on
// purpose: the program's binaries import it, not the pack and Kubernetes'
// API types the pack needs.
package shared

import (
	"path/filepath"
	"reflect"
	"regexp"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/acme/platform/internal/validate"
)

// ConfigDir holds the pack's config of each stack, <stack>.json, relative
// to the project root.
const ConfigDir = "policypack/config"

// ConfigFile is the path of a stack's pack config under root.
func ConfigFile(root, stack string) string {
	return filepath.Join(root, ConfigDir, stack+".json")
}

var pinnedByDigest = regexp.MustCompile(`@sha256:[a-f0-9]{64}$`)

// PinnedByDigest says whether an image reference names its content
// (…@sha256:<64 hex digits>, with or without a tag before it): a tag can
// be moved to other content, a digest cannot.
func PinnedByDigest(ref string) bool { return pinnedByDigest.MatchString(ref) }

// BoundedResources reports, at paths "requests.<name>" and "limits.<name>",
// each of the named resources (cpu, memory, ephemeral-storage) that a
// container's requests or limits leave out or set to something other than a
// positive quantity, and each limit below its request.
func BoundedResources(requests, limits map[string]any, names ...string) validate.Problems {
	var p validate.Problems
	parsed := map[string]resource.Quantity{}
	for _, side := range []struct {
		kind  string
		given map[string]any
	}{{"requests", requests}, {"limits", limits}} {
		for _, name := range names {
			path := side.kind + "." + name
			v, ok := side.given[name]
			if IsUnknown(v) {
				continue
			}
			q, err := Quantity(v)
			if !ok || err != nil || q.Sign() <= 0 {
				p.Add(path, shown(v, ok), "must be a positive Kubernetes quantity such as 250m or 128Mi")
				continue
			}
			parsed[path] = q
		}
	}
	for _, name := range names {
		req, okReq := parsed["requests."+name]
		lim, okLim := parsed["limits."+name]
		if okReq && okLim && lim.Cmp(req) < 0 {
			p.Add("limits."+name, shown(limits[name], true), "must be at least the request "+Show(requests[name]))
		}
	}
	return p
}

// shown is what a problem quotes for a value that is missing or not allowed.
func shown(v any, given bool) any {
	switch v := v.(type) {
	case Secret:
		return validate.Verbatim(Show(v))
	case string:
		return v
	case nil:
		if !given {
			return validate.Verbatim("(missing)")
		}
	}
	return validate.Verbatim(Show(v))
}

// SameCheck says whether two probes ask the same thing: the same HTTP, TCP,
// exec or gRPC action. Liveness should ask whether the process answers,
// readiness whether it can serve; one check for both makes a slow
// dependency restart pods instead of taking them out of rotation.
func SameCheck(a, b map[string]any) bool {
	return reflect.DeepEqual(Known(ProbeAction(a)), Known(ProbeAction(b)))
}

// ProbeAction is what a probe checks: its HTTP, TCP, exec or gRPC action.
func ProbeAction(probe map[string]any) map[string]any {
	for _, key := range []string{"httpGet", "tcpSocket", "exec", "grpc"} {
		if h, ok := probe[key]; ok {
			return map[string]any{key: h}
		}
	}
	return nil
}
