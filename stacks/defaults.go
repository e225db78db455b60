package stacks

// sizing is what an environment gives a service unless its config says otherwise.
type sizing struct {
	replicas         int
	resources        Resources
	highAvailability bool
	autoscaling      bool
	maxReplicas      int
	protect          bool
}

// environments are the per-environment defaults: dev and local small and cheap,
// prod highly available and protected.
var environments = map[Environment]sizing{
	Dev: {
		replicas: 1,
		resources: Resources{
			Requests: Quantities{CPU: "50m", Memory: "64Mi"},
			Limits:   Quantities{CPU: "250m", Memory: "128Mi"},
		},
	},
	Local: {
		replicas: 1,
		resources: Resources{
			Requests: Quantities{CPU: "10m", Memory: "32Mi"},
			Limits:   Quantities{CPU: "250m", Memory: "128Mi"},
		},
	},
	Prod: {
		replicas: 3,
		resources: Resources{
			Requests: Quantities{CPU: "250m", Memory: "256Mi"},
			Limits:   Quantities{CPU: "1", Memory: "512Mi"},
		},
		highAvailability: true,
		autoscaling:      true,
		maxReplicas:      10,
		protect:          true,
	},
}

// minProdReplicas keeps prod serving through a node or zone failure.
const minProdReplicas = 2
