package policypack

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// spend is what one workload requests at most: its pods' requests times the
// replicas it may run.
type spend struct {
	urn, name string
	pods      float64
	cpu, mem  resource.Quantity
}

// checkBudget sums the CPU and memory requests of the stack's long-running
// pods (replicas × the pod's containers; a workload an autoscaler scales by
// its maxReplicas; a DaemonSet once per node of the "nodes" setting) and
// compares them with the stack's budget. Jobs are left out: they end.
func checkBudget(rs []Resource, s Settings) []Violation {
	budget := map[string]resource.Quantity{}
	for _, kind := range []string{"cpu", "memory"} {
		if v, ok := s[kind]; ok {
			q, _ := quantity(v)
			budget[kind] = q
		}
	}
	if len(budget) == 0 {
		return nil
	}
	nodes := 1.0
	if n, ok := s["nodes"].(float64); ok {
		nodes = n
	}
	maxReplicas := autoscaled(rs)
	var spends []spend
	var cpu, mem resource.Quantity
	for _, r := range rs {
		spec, _, ok := podSpec(r)
		if !ok || !slices.Contains(budgeted, r.Type) {
			continue
		}
		n, known := replicas(r)
		if !known {
			n = 1 // not known yet in a preview: at least one pod
		}
		switch {
		case r.Type == "kubernetes:apps/v1:DaemonSet":
			n = nodes
		case r.Type == "kubernetes:core/v1:Pod":
			n = 1
		}
		if m, ok := maxReplicas[workloadKey(r)]; ok && m > n {
			n = m
		}
		sp := spend{urn: r.URN, name: r.Name, pods: n}
		for _, c := range containers(spec, "", "containers") {
			requests := object(object(c.spec["resources"])["requests"])
			if q, err := quantity(reveal(requests["cpu"])); err == nil {
				sp.cpu.Add(q)
			}
			if q, err := quantity(reveal(requests["memory"])); err == nil {
				sp.mem.Add(q)
			}
		}
		sp.cpu = times(sp.cpu, n)
		sp.mem = times(sp.mem, n)
		cpu.Add(sp.cpu)
		mem.Add(sp.mem)
		spends = append(spends, sp)
	}
	var out []Violation
	for _, over := range []struct {
		kind  string
		total resource.Quantity
		of    func(spend) resource.Quantity
	}{
		{"cpu", cpu, func(s spend) resource.Quantity { return s.cpu }},
		{"memory", mem, func(s spend) resource.Quantity { return s.mem }},
	} {
		limit, ok := budget[over.kind]
		if !ok || over.total.Cmp(limit) <= 0 {
			continue
		}
		slices.SortFunc(spends, func(a, b spend) int {
			q, p := over.of(a), over.of(b)
			return cmp.Or(p.Cmp(q), cmp.Compare(a.name, b.name))
		})
		var top []string
		for _, sp := range spends[:min(5, len(spends))] {
			q := over.of(sp)
			top = append(top, fmt.Sprintf("%s %s (%v× its pod)", sp.name, q.String(), sp.pods))
		}
		out = append(out, Violation{Path: over.kind, Message: fmt.Sprintf(
			"the stack requests %s of %s, over its budget of %s; the largest: %s. Lower replicas or requests, or raise the budget in the stack's pack config",
			over.kind, over.total.String(), limit.String(), strings.Join(top, ", "))})
	}
	return out
}

// budgeted are the types whose pods count against the budget.
var budgeted = append([]string{"kubernetes:core/v1:Pod"}, longRunning...)

// times is q×n (n a replica count).
func times(q resource.Quantity, n float64) resource.Quantity {
	return *resource.NewMilliQuantity(int64(float64(q.MilliValue())*n), q.Format)
}

// workloadKey names a workload as an autoscaler's scaleTargetRef does.
func workloadKey(r Resource) string {
	ns, _ := namespaceOf(r)
	name, _ := str(r.Properties, "metadata.name")
	kind := r.Type[strings.LastIndex(r.Type, ":")+1:]
	return ns + "/" + kind + "/" + name
}

// autoscaled are the maxReplicas of every workload a HorizontalPodAutoscaler
// scales, by workloadKey.
func autoscaled(rs []Resource) map[string]float64 {
	out := map[string]float64{}
	for _, r := range rs {
		if !strings.HasPrefix(r.Type, "kubernetes:autoscaling/") || !strings.HasSuffix(r.Type, ":HorizontalPodAutoscaler") {
			continue
		}
		ns, _ := namespaceOf(r)
		kind, _ := str(r.Properties, "spec.scaleTargetRef.kind")
		name, _ := str(r.Properties, "spec.scaleTargetRef.name")
		if n, ok := number(r.Properties, "spec.maxReplicas"); ok {
			out[ns+"/"+kind+"/"+name] = n
		}
	}
	return out
}

func validateBudget(s Settings) []string {
	var out []string
	for _, kind := range []string{"cpu", "memory"} {
		v, ok := s[kind]
		if !ok {
			continue
		}
		if q, err := quantity(v); err != nil || q.Sign() <= 0 {
			out = append(out, fmt.Sprintf("%s: %s: must be a positive Kubernetes quantity such as 4 or 8Gi", kind, show(v)))
		}
	}
	if v, ok := s["nodes"]; ok {
		if n, isNumber := v.(float64); !isNumber || n < 1 || n != float64(int(n)) {
			out = append(out, fmt.Sprintf("nodes: %s: must be a whole number of at least 1", show(v)))
		}
	}
	return out
}
