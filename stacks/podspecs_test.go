package stacks

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/acme/platform/internal/pulumitest"
	"github.com/acme/platform/stacks/stackstest"
)

// Each pod's ephemeral-storage limits cover its emptyDirs: the kubelet
// counts their use against the pod's total and evicts past it. (That every
// container requests and limits it is the policy pack's resources-bounded,
// run over every stack by TestEveryStackPassesThePolicyPack.)
func TestPodsEphemeralLimitsCoverTheirEmptyDirs(t *testing.T) {
	eachPodSpec(t, func(stack string, r pulumitest.Resource, spec map[string]any) {
		// The pod's total is what its containers may use at once.
		var limits, emptyDirs resource.Quantity
		running, _ := spec["containers"].([]any)
		for _, c := range running {
			res, _ := c.(map[string]any)["resources"].(map[string]any)
			if lim, ok := res["limits"].(map[string]any)["ephemeral-storage"].(string); ok {
				limits.Add(resource.MustParse(lim))
			}
		}
		volumes, _ := spec["volumes"].([]any)
		for _, v := range volumes {
			if ed, ok := v.(map[string]any)["emptyDir"].(map[string]any); ok {
				if size, ok := ed["sizeLimit"].(string); ok {
					emptyDirs.Add(resource.MustParse(size))
				}
			}
		}
		if limits.Cmp(emptyDirs) < 0 {
			t.Errorf("%s: %s %s: containers' ephemeral limits %s do not cover the emptyDirs' %s", stack, r.Type, r.Name, limits.String(), emptyDirs.String())
		}
	})
}

// eachPodSpec runs every stack's program under mocks and calls check with
// the pod spec of every workload and Job it declares.
func eachPodSpec(t *testing.T, check func(stack string, r pulumitest.Resource, spec map[string]any)) {
	stackstest.EachPodSpec(t, "..", Program, check)
}

// No secret reaches a command line, where every user of the node reads it
// in /proc/<pid>/cmdline: in every container of every stack, no command,
// argument or exec probe holds a secret config value or expands a variable
// that comes from a Secret ($(NAME), which the kubelet puts into argv), and
// a shell script uses such a variable only as an argument of printf, bash's
// builtin (piped on, or written to a config curl reads on stdin): never as
// any program's argument.
func TestNoSecretOnACommandLine(t *testing.T) {
	checked := 0
	eachPodSpec(t, func(stack string, r pulumitest.Resource, spec map[string]any) {
		for _, c := range pulumitest.Containers(spec) {
			where := fmt.Sprintf("%s: %s %s, container %s", stack, r.Type, r.Name, c["name"])
			for _, problem := range secretsOnCommandLines(c, stackstest.Secrets[stack]) {
				t.Errorf("%s: %s", where, problem)
			}
			checked++
		}
	})
	if checked == 0 {
		t.Fatal("no container checked")
	}
	// The check finds what it looks for: a password passed to curl.
	bad := map[string]any{
		"env":     []any{map[string]any{"name": "ELASTIC_PASSWORD", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "s", "key": "k"}}}},
		"command": []any{"/bin/bash", "-c", `curl -u "elastic:${ELASTIC_PASSWORD}" https://es:9200`},
		"args":    []any{"--token=$(ELASTIC_PASSWORD)", "literal-" + stackstest.ElasticPassword},
	}
	if problems := secretsOnCommandLines(bad, map[string]string{"elasticPassword": stackstest.ElasticPassword}); len(problems) != 3 {
		t.Errorf("the check found %d of the 3 ways a secret reaches argv: %v", len(problems), problems)
	}
}

// secretsOnCommandLines lists how a container puts a secret on a command line.
func secretsOnCommandLines(c map[string]any, secrets map[string]string) []string {
	var fromSecret []string
	vars, _ := c["env"].([]any)
	for _, v := range vars {
		m := v.(map[string]any)
		if from, ok := m["valueFrom"].(map[string]any); ok && from["secretKeyRef"] != nil {
			fromSecret = append(fromSecret, m["name"].(string))
		}
	}
	var lines []string
	for _, key := range []string{"command", "args"} {
		list, _ := c[key].([]any)
		for _, a := range list {
			lines = append(lines, fmt.Sprint(a))
		}
	}
	for _, probe := range []string{"readinessProbe", "livenessProbe", "startupProbe"} {
		p, _ := c[probe].(map[string]any)
		exec, _ := p["exec"].(map[string]any)
		list, _ := exec["command"].([]any)
		for _, a := range list {
			lines = append(lines, fmt.Sprint(a))
		}
	}
	var problems []string
	for _, arg := range lines {
		for key, value := range secrets {
			if len(value) >= 8 && strings.Contains(arg, value) {
				problems = append(problems, fmt.Sprintf("the value of secret config key %s in %q", key, short(arg)))
			}
		}
		for _, name := range fromSecret {
			if strings.Contains(arg, "$("+name+")") {
				problems = append(problems, fmt.Sprintf("$(%s) (the kubelet expands it into the argument) in %q", name, short(arg)))
			}
			for _, segment := range shellSegments(arg) {
				if (strings.Contains(segment, "$"+name) || strings.Contains(segment, "${"+name+"}")) && !strings.HasPrefix(segment, "printf ") {
					problems = append(problems, fmt.Sprintf("$%s as a program's argument in %q", name, short(segment)))
				}
			}
		}
	}
	return problems
}

// shellSegments splits a script into the commands a shell runs: at line
// breaks, pipes, separators and command substitutions, each without its
// leading keywords and spaces.
func shellSegments(script string) []string {
	var out []string
	for _, s := range regexp.MustCompile(`\n|\|\|?|;|&&|\$\(`).Split(script, -1) {
		s = strings.TrimSpace(s)
		for _, keyword := range []string{"until ", "while ", "if ", "then ", "do ", "! "} {
			s = strings.TrimSpace(strings.TrimPrefix(s, keyword))
		}
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func short(s string) string {
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}
