package policypack

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psa "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"

	"github.com/acme/platform/policypack/shared"
)

// podSpecPaths are where each Kubernetes type that makes pods holds their spec.
var podSpecPaths = map[string]string{
	"kubernetes:core/v1:Pod":                   "spec",
	"kubernetes:core/v1:ReplicationController": "spec.template.spec",
	"kubernetes:apps/v1:Deployment":            "spec.template.spec",
	"kubernetes:apps/v1:StatefulSet":           "spec.template.spec",
	"kubernetes:apps/v1:DaemonSet":             "spec.template.spec",
	"kubernetes:apps/v1:ReplicaSet":            "spec.template.spec",
	"kubernetes:batch/v1:Job":                  "spec.template.spec",
	"kubernetes:batch/v1:CronJob":              "spec.jobTemplate.spec.template.spec",
}

// longRunning are the types whose pods serve until replaced: they are probed,
// counted against the budget and kept through disruptions.
var longRunning = []string{
	"kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet", "kubernetes:apps/v1:ReplicaSet",
}

// podSpec is the spec of the pods r makes and its path, if r makes pods.
func podSpec(r Resource) (map[string]any, string, bool) {
	path, ok := podSpecPaths[r.Type]
	if !ok {
		return nil, "", false
	}
	spec := object(at(r.Properties, path))
	return spec, path, spec != nil
}

// podMetadata is the metadata of the pods r makes.
func podMetadata(r Resource) map[string]any {
	path := strings.TrimSuffix(podSpecPaths[r.Type], "spec") + "metadata"
	return object(at(r.Properties, path))
}

// container is one container of a pod spec with its path.
type container struct {
	path string
	spec map[string]any
}

// containers are a pod spec's containers of the given kinds
// (initContainers, containers, ephemeralContainers).
func containers(spec map[string]any, specPath string, kinds ...string) []container {
	var out []container
	for _, kind := range kinds {
		for i, c := range list(spec[kind]) {
			if m := object(c); m != nil {
				out = append(out, container{path: fmt.Sprintf("%s.%s[%d]", specPath, kind, i), spec: m})
			}
		}
	}
	return out
}

func checkImagesPinned(r Resource, _ Settings) []Violation {
	spec, path, ok := podSpec(r)
	if !ok {
		return nil
	}
	var out []Violation
	for _, c := range containers(spec, path, "initContainers", "containers", "ephemeralContainers") {
		image := c.spec["image"]
		ref, isString := reveal(image).(string)
		if isUnknown(image) || isString && shared.PinnedByDigest(ref) {
			continue
		}
		out = append(out, Violation{Path: c.path + ".image", Message: fmt.Sprintf(
			"%s is not pinned by digest: use <repository>@sha256:<digest> (a tag may stay before the @); a tag can be moved to other content", show(image))})
	}
	return out
}

// restricted is the Pod Security Standard the pods must meet, at the latest
// version Kubernetes' own admission code knows.
var restricted = psa.LevelVersion{Level: psa.LevelRestricted, Version: psa.LatestVersion()}

// podSecurity is upstream's evaluator (k8s.io/pod-security-admission at the
// pinned Kubernetes release): the same checks an API server's Pod Security
// admission runs for a namespace labelled enforce=restricted.
var podSecurity = func() psapolicy.Evaluator {
	e, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		panic(err)
	}
	return e
}()

func checkPodSecurity(r Resource, _ Settings) []Violation {
	spec, path, ok := podSpec(r)
	if !ok {
		return nil
	}
	var pod corev1.PodSpec
	var meta metav1.ObjectMeta
	if err := decode(spec, &pod); err != nil {
		return []Violation{{Path: path, Message: fmt.Sprintf("is not a valid pod spec: %v", err)}}
	}
	if err := decode(podMetadata(r), &meta); err != nil {
		return []Violation{{Path: strings.TrimSuffix(path, "spec") + "metadata", Message: fmt.Sprintf("is not valid pod metadata: %v", err)}}
	}
	var out []Violation
	for _, result := range podSecurity.EvaluatePod(restricted, &meta, &pod) {
		if !result.Allowed {
			out = append(out, Violation{Path: path, Message: fmt.Sprintf(
				"breaks Pod Security %q (%s): %s", psa.LevelRestricted, result.ForbiddenReason, result.ForbiddenDetail)})
		}
	}
	return out
}

// boundedNames are the resources every container requests and limits.
var boundedNames = []string{"cpu", "memory", "ephemeral-storage"}

func checkResourcesBounded(r Resource, _ Settings) []Violation {
	spec, path, ok := podSpec(r)
	if !ok {
		return nil
	}
	var out []Violation
	for _, c := range containers(spec, path, "initContainers", "containers") {
		res := object(c.spec["resources"])
		for _, q := range shared.BoundedResources(object(res["requests"]), object(res["limits"]), boundedNames...) {
			out = append(out, Violation{Path: c.path + ".resources." + q.Path, Message: strings.TrimPrefix(q.String(), q.Path+": ")})
		}
	}
	return out
}

func checkProbesDistinct(r Resource, _ Settings) []Violation {
	if !slices.Contains(longRunning, r.Type) {
		return nil
	}
	spec, path, ok := podSpec(r)
	if !ok {
		return nil
	}
	var out []Violation
	for _, c := range containers(spec, path, "containers") {
		live, ready := object(c.spec["livenessProbe"]), object(c.spec["readinessProbe"])
		switch {
		case live == nil && ready == nil:
			out = append(out, Violation{Path: c.path, Message: "has no liveness or readiness probe: a hung process is never restarted, a starting one gets traffic"})
		case live == nil:
			out = append(out, Violation{Path: c.path + ".livenessProbe", Message: "is missing: a hung process is never restarted"})
		case ready == nil:
			out = append(out, Violation{Path: c.path + ".readinessProbe", Message: "is missing: the pod gets traffic before it can serve"})
		case shared.SameCheck(live, ready):
			out = append(out, Violation{Path: c.path + ".readinessProbe", Message: fmt.Sprintf(
				"is the same check as the liveness probe (%s): readiness must ask whether the pod can serve, liveness only whether the process answers", show(shared.ProbeAction(live)))})
		}
	}
	return out
}

// namespaceOf is the namespace of a namespaced object ("default" when the
// program leaves it to the provider), and whether it is known.
func namespaceOf(r Resource) (string, bool) {
	v := at(r.Properties, "metadata.namespace")
	switch v := v.(type) {
	case nil:
		return "default", true
	case string:
		return v, v != ""
	}
	return "", false
}

func isDefaultDeny(r Resource) bool {
	if r.Type != "kubernetes:networking.k8s.io/v1:NetworkPolicy" {
		return false
	}
	selector := object(at(r.Properties, "spec.podSelector"))
	if len(object(selector["matchLabels"])) > 0 || len(list(selector["matchExpressions"])) > 0 {
		return false
	}
	var types []string
	for _, t := range list(at(r.Properties, "spec.policyTypes")) {
		if s, ok := reveal(t).(string); ok {
			types = append(types, s)
		}
	}
	return slices.Contains(types, "Ingress") && slices.Contains(types, "Egress") &&
		len(list(at(r.Properties, "spec.ingress"))) == 0 && len(list(at(r.Properties, "spec.egress"))) == 0
}

func checkDefaultDeny(rs []Resource, _ Settings) []Violation {
	denied := map[string]bool{}
	for _, r := range rs {
		if ns, ok := namespaceOf(r); ok && isDefaultDeny(r) {
			denied[ns] = true
		}
	}
	var out []Violation
	reported := map[string]bool{}
	for _, r := range rs {
		if _, _, ok := podSpec(r); !ok {
			continue
		}
		ns, ok := namespaceOf(r)
		if !ok || denied[ns] || reported[ns] {
			continue
		}
		reported[ns] = true
		out = append(out, Violation{URN: r.URN, Path: "metadata.namespace", Message: fmt.Sprintf(
			"namespace %q runs pods but has no default-deny NetworkPolicy (podSelector {}, policyTypes [Ingress, Egress], no rules): every pod in it takes and makes any connection", ns)})
	}
	return out
}

// authAnnotations are the annotations by which an ingress controller
// authenticates requests before they reach the service (ingress-nginx's
// external and basic auth, Traefik's middlewares).
var authAnnotations = []string{
	"nginx.ingress.kubernetes.io/auth-url", "nginx.ingress.kubernetes.io/auth-type",
	"traefik.ingress.kubernetes.io/router.middlewares",
}

// byDesign is how a message points to the exceptions of the pack config.
const byDesign = "or, if it is exposed by design, add an exception with the reason to the stack's pack config"

func checkExposure(r Resource, _ Settings) []Violation {
	switch r.Type {
	case "kubernetes:core/v1:Service":
		if t, _ := str(r.Properties, "spec.type"); t == "LoadBalancer" || t == "NodePort" {
			return []Violation{{Path: "spec.type", Message: fmt.Sprintf(
				"%q exposes the pods outside the cluster with neither TLS nor authentication: use a ClusterIP Service behind an Ingress with TLS and authentication, %s", t, byDesign)}}
		}
	case "kubernetes:networking.k8s.io/v1:Ingress":
		var out []Violation
		tls := list(at(r.Properties, "spec.tls"))
		covered := map[string]bool{}
		for _, entry := range tls {
			for _, h := range stringList(object(entry)["hosts"]) {
				covered[h] = true
			}
		}
		if len(tls) == 0 {
			out = append(out, Violation{Path: "spec.tls", Message: "is missing: the ingress serves plain HTTP; add a tls entry for its hosts (a cert-manager issuer annotation fills its secret), " + byDesign})
		}
		for i, rule := range list(at(r.Properties, "spec.rules")) {
			host, ok := reveal(object(rule)["host"]).(string)
			if ok && len(tls) > 0 && !covered[host] {
				out = append(out, Violation{Path: fmt.Sprintf("spec.rules[%d].host", i), Message: fmt.Sprintf("%q is not among the hosts of spec.tls: it is served without TLS", host)})
			}
		}
		annotations := object(at(r.Properties, "metadata.annotations"))
		if !slices.ContainsFunc(authAnnotations, func(a string) bool { return annotations[a] != nil }) {
			out = append(out, Violation{Path: "metadata.annotations", Message: fmt.Sprintf(
				"name no authentication (one of %s): anyone who reaches the ingress reaches the service; put an authenticating proxy in front, %s", strings.Join(authAnnotations, ", "), byDesign)})
		}
		return out
	}
	return nil
}

func stringList(v any) []string {
	var out []string
	for _, e := range list(v) {
		if s, ok := reveal(e).(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// replicas is how many pods a workload keeps, when known.
func replicas(r Resource) (float64, bool) {
	v := at(r.Properties, "spec.replicas")
	if v == nil {
		return 1, true
	}
	n, ok := v.(float64)
	return n, ok
}

func checkDisruptionBudgets(rs []Resource, _ Settings) []Violation {
	var budgets []Resource
	for _, r := range rs {
		if r.Type == "kubernetes:policy/v1:PodDisruptionBudget" {
			budgets = append(budgets, r)
		}
	}
	var out []Violation
	for _, r := range rs {
		if r.Type != "kubernetes:apps/v1:Deployment" && r.Type != "kubernetes:apps/v1:StatefulSet" {
			continue
		}
		n, ok := replicas(r)
		if !ok || n < 2 {
			continue
		}
		ns, _ := namespaceOf(r)
		labels := object(podMetadata(r)["labels"])
		if !slices.ContainsFunc(budgets, func(b Resource) bool { return covers(b, ns, labels) }) {
			out = append(out, Violation{URN: r.URN, Path: "spec.replicas", Message: fmt.Sprintf(
				"%v replicas and no PodDisruptionBudget selects its pods: a node drain may evict them all at once; add one (policy/v1) with maxUnavailable 1 and a selector matching spec.template.metadata.labels", n)})
		}
	}
	return out
}

// covers says whether budget b selects pods with labels in namespace ns.
func covers(b Resource, ns string, labels map[string]any) bool {
	if bns, ok := namespaceOf(b); !ok || bns != ns {
		return false
	}
	for k, v := range object(at(b.Properties, "spec.selector.matchLabels")) {
		if isUnknown(v) {
			continue
		}
		if reveal(labels[k]) != reveal(v) {
			return false
		}
	}
	return true
}
