package policypack

// Rules are the pack's rules, in the order the README's table lists them.
// A new rule is one entry here, its check, a passing and a failing case in
// rules_test.go, and a row in the README.
func Rules() []Rule {
	return []Rule{
		{
			Name:        "images-pinned-by-digest",
			Description: "Every container image is pinned by digest.",
			Remediation: "Deploy <repository>@sha256:<digest> (the digest CI pushed, or `crane digest`/`docker buildx imagetools inspect` of the tag); a tag may stay before the @.",
			Level:       Mandatory,
			Check:       checkImagesPinned,
		},
		{
			Name:        "pod-security-restricted",
			Description: "Every pod meets the Pod Security Standard \"restricted\", judged by Kubernetes' own admission code.",
			Remediation: "Run as non-root, drop ALL capabilities, allowPrivilegeEscalation false, seccompProfile RuntimeDefault, no host namespaces, ports or paths.",
			Level:       Mandatory,
			Check:       checkPodSecurity,
		},
		{
			Name:        "resources-bounded",
			Description: "Every container requests and limits CPU, memory and ephemeral storage, each limit at least its request.",
			Remediation: "Set resources.requests and resources.limits for cpu, memory and ephemeral-storage on every container and init container.",
			Level:       Mandatory,
			Check:       checkResourcesBounded,
		},
		{
			Name:        "probes-distinct",
			Description: "Every long-running container has liveness and readiness probes, and they are different checks.",
			Remediation: "Probe liveness with a check of the process alone (/healthz) and readiness with one of its ability to serve (/readyz).",
			Level:       Mandatory,
			Check:       checkProbesDistinct,
		},
		{
			Name:        "namespace-default-deny",
			Description: "Every namespace that runs pods has a default-deny NetworkPolicy.",
			Remediation: "Add a NetworkPolicy with podSelector {}, policyTypes [Ingress, Egress] and no rules to the namespace, then allow each flow by a policy of its own.",
			Level:       Mandatory,
			CheckStack:  checkDefaultDeny,
		},
		{
			Name:        "exposure-tls-and-auth",
			Description: "No Service of type LoadBalancer or NodePort, and no Ingress without TLS and authentication (an exception in the stack's pack config names those exposed by design).",
			Remediation: "Serve through an Ingress with spec.tls for every host and an authenticating proxy's annotation, or add an exception with its reason to the stack's pack config.",
			Level:       Mandatory,
			Check:       checkExposure,
		},
		{
			Name:        "disruption-budgets",
			Description: "Every Deployment and StatefulSet of more than one replica has a PodDisruptionBudget.",
			Remediation: "Add a policy/v1 PodDisruptionBudget (maxUnavailable 1) whose selector matches the pod template's labels.",
			Level:       Advisory,
			CheckStack:  checkDisruptionBudgets,
		},
		{
			Name:        "github-default-branch-ruleset",
			Description: "Every GitHub repository has an active ruleset on its default branch.",
			Remediation: "Add a github.RepositoryRuleset with target branch, enforcement active and conditions.refName.includes [~DEFAULT_BRANCH].",
			Level:       Mandatory,
			CheckStack:  checkDefaultBranchRuleset,
		},
		{
			Name:        "github-no-plain-secrets",
			Description: "No credential in a GitHub Actions variable, and no Actions secret from a plain value.",
			Remediation: "Keep credentials in Actions secrets set from secret config (pulumi config set --secret).",
			Level:       Mandatory,
			Check:       checkNoPlainSecrets,
		},
		{
			Name:        "cost-budget",
			Description: "The stack's long-running pods request no more CPU and memory than its budget.",
			Remediation: "Lower replicas or requests, or raise the budget in the stack's pack config.",
			Level:       Mandatory,
			Schema: map[string]map[string]any{
				"cpu":    {"type": "string", "description": "the most CPU the stack's pods may request, such as \"4\""},
				"memory": {"type": "string", "description": "the most memory the stack's pods may request, such as \"8Gi\""},
				"nodes":  {"type": "integer", "description": "how many nodes a DaemonSet's pods run on (default 1)"},
			},
			CheckStack: checkBudget,
			validate:   validateBudget,
		},
	}
}
