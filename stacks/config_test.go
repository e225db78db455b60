package stacks

import (
	"fmt"
	"strings"
	"testing"
)

// validValues is a small valid dev stack; cases below change one thing each.
func validValues() map[string]Value {
	return map[string]Value{
		"platform:environment": {Raw: "dev"},
		"platform:services": {Raw: `[{"name":"greeter","image":"ghcr.io/acme/greeter@` + digest + `","version":"0.1.0",
			"env":{"GREETING":"hi"},"secretEnv":{"API_TOKEN":"greeterApiToken"}}]`},
		"platform:greeterApiToken":   {Raw: "s3cr3t-token", Secret: true},
		"kubernetes:someProviderKey": {Raw: "left to its owner"},
	}
}

func with(changes map[string]*Value) map[string]Value {
	v := validValues()
	for k, c := range changes {
		if c == nil {
			delete(v, k)
		} else {
			v[k] = *c
		}
	}
	return v
}

func plain(raw string) *Value  { return &Value{Raw: raw} }
func secret(raw string) *Value { return &Value{Raw: raw, Secret: true} }

func services(json string) map[string]*Value {
	return map[string]*Value{"platform:services": plain(json)}
}

func TestLoadAcceptsValidConfig(t *testing.T) {
	cfg, err := Load(validValues(), testEnviron)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Environment != Dev || len(cfg.Services) != 1 || cfg.Services[0].Name != "greeter" {
		t.Fatalf("unexpected config: %+v", cfg)
	}
	if got := cfg.Secrets["greeterApiToken"].Reveal(); got != "s3cr3t-token" {
		t.Fatalf("secret not loaded: %q", got)
	}
}

// Presence-aware decoding: an unset key takes the environment's profile, a
// set one is honoured, also when it equals Go's zero value.
func TestLoadTakesProfilesAndHonoursWhatIsSet(t *testing.T) {
	const svc = `"name":"greeter","image":"ghcr.io/acme/greeter@` + digest + `","version":"0.1.0"`
	got := func(env, service string) Service {
		values := validValues()
		values["platform:environment"] = Value{Raw: env}
		values["platform:services"] = Value{Raw: "[" + service + "]"}
		delete(values, "platform:greeterApiToken")
		cfg, err := Load(values, testEnviron)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Services[0]
	}
	if s := got("dev", `{`+svc+`}`); s.Replicas != 1 || s.Port != 8080 || s.Resources.Limits.CPU != "250m" || s.Autoscaling.Enabled {
		t.Errorf("dev defaults: %+v", s.Args)
	}
	if s := got("prod", `{`+svc+`}`); s.Replicas != 3 || !s.Autoscaling.Enabled || !s.HighAvailability || s.Resources.Limits.CPU != "1" {
		t.Errorf("prod defaults: %+v", s.Args)
	}
	s := got("prod", `{`+svc+`,"replicas":4,"port":9090,"resources":{"limits":{"cpu":"2"}},"autoscaling":{"enabled":false}}`)
	if s.Replicas != 4 || s.Port != 9090 || s.Resources.Limits.CPU != "2" || s.Autoscaling.Enabled {
		t.Errorf("set values not honoured: %+v", s.Args)
	}
	if s.Resources.Limits.Memory != "512Mi" || s.Resources.Requests.CPU != "250m" {
		t.Errorf("the keys left unset beside set ones lost their prod defaults: %+v", s.Resources)
	}
}

func TestLoadRejects(t *testing.T) {
	const svc = `"name":"greeter","image":"ghcr.io/acme/greeter@` + digest + `","version":"0.1.0"`
	tests := []struct {
		name   string
		values map[string]Value
		want   []string // each must appear in the error
	}{
		{"missing environment", with(map[string]*Value{"platform:environment": nil}),
			[]string{`platform:environment: "": must be one of dev, prod, local`}},
		{"unknown environment", with(map[string]*Value{"platform:environment": plain("staging")}),
			[]string{`platform:environment: "staging": must be one of dev, prod, local`}},
		{"unknown top-level key", with(map[string]*Value{"platform:replcas": plain("3")}),
			[]string{`platform:replcas: "3": unknown key`}},
		{"unknown secret key is not echoed", with(map[string]*Value{"platform:stray": secret("hunter2")}),
			[]string{`platform:stray: [secret]: unknown key`}},
		{"unknown service field", with(services(`[{` + svc + `,"replcas":2}]`)),
			[]string{`platform:services[0].replcas: 2: unknown field; allowed:`}},
		{"unknown nested field", with(services(`[{` + svc + `,"resources":{"limits":{"cpus":"1"}}}]`)),
			[]string{`platform:services[0].resources.limits.cpus: "1": unknown field`}},
		{"zero replicas is taken as written, and refused", with(services(`[{` + svc + `,"replicas":0}]`)),
			[]string{`platform:services[0].replicas: 0: must be at least 1`}},
		{"one replica in prod", with(map[string]*Value{"platform:environment": plain("prod"), "platform:services": plain(`[{` + svc + `,"replicas":1}]`)}),
			[]string{`platform:services[0].replicas: 1: must be at least 2 in prod`}},
		{"an explicit empty probe path is refused", with(services(`[{` + svc + `,"probes":{"readiness":""}}]`)),
			[]string{`platform:services[0].probes.readiness: "": must be an absolute URL path`}},
		{"wrong type", with(services(`[{` + svc + `,"replicas":"two"}]`)),
			[]string{`platform:services[0].replicas: "two": must be a whole number`}},
		{"not structured", with(services(`greeter`)),
			[]string{`platform:services: "greeter": must be structured config`}},
		{"object where a list belongs", with(services(`{"name":"greeter"}`)),
			[]string{`platform:services: {"name":"greeter"}: must be a list`}},
		{"no services", with(services(`[]`)),
			[]string{`platform:services: []: must list at least one service`}},
		{"limit below request", with(services(`[{` + svc + `,"resources":{"requests":{"memory":"256Mi"},"limits":{"memory":"128Mi"}}}]`)),
			[]string{`platform:services[0].resources.limits.memory: "128Mi": must be at least the request "256Mi"`}},
		{"bad quantity", with(services(`[{` + svc + `,"resources":{"requests":{"cpu":"lots"}}}]`)),
			[]string{`platform:services[0].resources.requests.cpu: "lots": must be a positive Kubernetes quantity`}},
		{"no image and no build", with(services(`[{"name":"greeter","image":"","version":"1"}]`)),
			[]string{`platform:services[0].image: "": is required unless build or imageFrom is given`}},
		{"latest tag", with(services(`[{"name":"greeter","image":"ghcr.io/acme/greeter:latest","version":"1"}]`)),
			[]string{`platform:services[0].image: "ghcr.io/acme/greeter:latest": must not use the "latest" tag`}},
		{"prebuilt by tag", with(services(`[{"name":"greeter","image":"ghcr.io/acme/greeter:1.0","version":"1"}]`)),
			[]string{`platform:services[0].image: "ghcr.io/acme/greeter:1.0": must be pinned by digest`}},
		{"malformed image", with(services(`[{"name":"greeter","image":"Not An Image","version":"1"}]`)),
			[]string{`platform:services[0].image: "Not An Image": must be an image reference`}},
		{"image and build", with(services(`[{` + svc + `,"build":{"repository":"ghcr.io/acme/greeter","username":"bot","passwordSecret":"greeterApiToken"}}]`)),
			[]string{`platform:services[0].image: "ghcr.io/acme/greeter@sha256:`}},
		{"build without credentials", with(services(`[{"name":"greeter","version":"1","build":{"repository":"ghcr.io/acme/greeter","username":"bot","passwordSecret":"registryToken"}}]`)),
			[]string{`platform:services[0].build.passwordSecret: "registryToken": names no config key`}},
		{"build with a missing Dockerfile", with(services(`[{"name":"greeter","version":"1","build":{"context":"app","dockerfile":"app/Nope","repository":"ghcr.io/acme/greeter","username":"bot","passwordSecret":"greeterApiToken"}}]`)),
			[]string{`platform:services[0].build.dockerfile: "app/Nope": must be a Dockerfile of the project`}},
		{"build tagged latest", with(services(`[{"name":"greeter","version":"latest","build":{"repository":"ghcr.io/acme/greeter","username":"bot","passwordSecret":"greeterApiToken"}}]`)),
			[]string{`platform:services[0].version: "latest": must not be "latest"`}},
		{"build on the local stack", with(map[string]*Value{
			"platform:environment": plain("local"),
			"platform:kubernetes":  plain(`{"kubeconfig":".cluster/kubeconfig"}`),
			"platform:services":    plain(`[{"name":"greeter","version":"1","build":{"repository":"ghcr.io/acme/greeter","username":"bot","passwordSecret":"greeterApiToken"}}]`)}),
			[]string{`platform:services[0].build: {…}: is not available to the local stack`}},
		{"missing version", with(services(`[{"name":"greeter","image":"ghcr.io/acme/greeter@` + digest + `"}]`)),
			[]string{`platform:services[0].version: "": is required`}},
		{"bad name", with(services(`[{"name":"Greeter_1","image":"ghcr.io/acme/greeter@` + digest + `","version":"1"}]`)),
			[]string{`platform:services[0].name: "Greeter_1": must be a DNS label`}},
		{"duplicate names", with(services(`[{` + svc + `},{` + svc + `}]`)),
			[]string{`platform:services[1].name: "greeter": is already the name of services[0]`}},
		{"probe path", with(services(`[{` + svc + `,"probes":{"readiness":"readyz"}}]`)),
			[]string{`platform:services[0].probes.readiness: "readyz": must be an absolute URL path`}},
		{"port out of range", with(services(`[{` + svc + `,"port":70000}]`)),
			[]string{`platform:services[0].port: 70000: must be a port number`}},
		{"secret given as plain config", with(map[string]*Value{"platform:greeterApiToken": plain("oops")}),
			[]string{`platform:greeterApiToken: (plain text): is referred to as a secret, so it must be one`}},
		{"secret reference to nothing", with(map[string]*Value{"platform:greeterApiToken": nil}),
			[]string{`platform:services[0].secretEnv.API_TOKEN: "greeterApiToken": names no config key`}},
		{"secret reference to a setting", with(services(`[{` + svc + `,"secretEnv":{"X":"services"}}]`)),
			[]string{`platform:services[0].secretEnv.X: "services": must name a secret key`}},
		{"env var name", with(services(`[{` + svc + `,"env":{"1BAD":"x"}}]`)),
			[]string{`platform:services[0].env.1BAD: "1BAD": must be an environment variable name`}},
		{"same variable in env and secretEnv", with(services(`[{` + svc + `,"env":{"API_TOKEN":"x"},"secretEnv":{"API_TOKEN":"greeterApiToken"}}]`)),
			[]string{`platform:services[0].secretEnv.API_TOKEN: "API_TOKEN": is also set in env`}},
		{"list where an object belongs", with(services(`[{` + svc + `,"env":["A=1"]}]`)),
			[]string{`platform:services[0].env: ["A=1"]: must be an object`}},
		{"autoscaling below replicas", with(services(`[{` + svc + `,"replicas":4,"autoscaling":{"enabled":true,"maxReplicas":2}}]`)),
			[]string{`platform:services[0].autoscaling.maxReplicas: 2: must be at least replicas (4)`}},
		{"ingress host", with(services(`[{` + svc + `,"ingress":{"host":"Not A Host"}}]`)),
			[]string{`platform:services[0].ingress.host: "Not A Host": must be a DNS name`}},
		{"egress cidr and ports", with(services(`[{` + svc + `,"egress":[{"cidr":"10.0.0.300/8","ports":[]}]}]`)),
			[]string{`platform:services[0].egress[0].cidr: "10.0.0.300/8": must be an IPv4 CIDR block`, `platform:services[0].egress[0].ports: []: must list at least one port`}},
		{"local needs a kubeconfig", with(map[string]*Value{"platform:environment": plain("local")}),
			[]string{`platform:kubernetes.kubeconfig: "": is required for the local stack`}},
		{"github on the local stack", with(map[string]*Value{
			"platform:environment": plain("local"),
			"platform:kubernetes":  plain(`{"kubeconfig":".cluster/kubeconfig"}`),
			"platform:github":      plain(`{"owner":"acme","repositories":[{"name":"greeter"}]}`)}),
			[]string{`platform:github: {…}: is not available to the local stack`}},
		{"github rules checked", with(map[string]*Value{"platform:github": plain(`{"owner":"acme","rules":{"requiredReviews":9},
			"repositories":[{"name":"greeter","statusChecks":[""],"mergeStrategies":["fast-forward"],"secrets":{"GITHUB_X":"greeterApiToken"}}]}`)}),
			[]string{`platform:github.rules.requiredReviews: 9: must be from 0 to 6`,
				`platform:github.repositories[0].statusChecks[0]: "": must name a status check`,
				`platform:github.repositories[0].mergeStrategies[0]: "fast-forward": must be squash, merge or rebase`,
				`platform:github.repositories[0].secrets.GITHUB_X: "GITHUB_X": must match`}},
		{"github plan lacks what a private repository asks", with(map[string]*Value{"platform:github": plain(`{"owner":"acme","plan":"team",
			"repositories":[{"name":"greeter","environments":[{"name":"production","reviewerTeams":[1]}]}]}`)}),
			[]string{`platform:github.repositories[0].environments[0].reviewerTeams: 1: required reviewers on a private repository needs plan enterprise or above (platform:github.plan is team)`}},
		{"github plan unknown", with(map[string]*Value{"platform:github": plain(`{"owner":"acme","plan":"business","repositories":[{"name":"greeter","visibility":"public"}]}`)}),
			[]string{`platform:github.plan: "business": must be one of free, pro, team, enterprise`}},
		{"github rules no longer take a mode", with(map[string]*Value{"platform:github": plain(`{"owner":"acme","plan":"pro","rules":{"mode":"branch-protection"},"repositories":[{"name":"greeter"}]}`)}),
			[]string{`platform:github.rules.mode: "branch-protection": unknown field`}},
		{"github token not set", with(map[string]*Value{"platform:github": plain(`{"owner":"acme","tokenSecret":"githubToken","repositories":[{"name":"greeter"}]}`)}),
			[]string{`platform:github.tokenSecret: "githubToken": names no config key`}},
		{"github without owner or repositories", with(map[string]*Value{"platform:github": plain(`{"repositories":[]}`)}),
			[]string{`platform:github.owner: "": is required`, `platform:github.repositories: []: must list at least one repository`}},
		{"duplicate repositories", with(map[string]*Value{"platform:github": plain(`{"owner":"acme","repositories":[{"name":"greeter"},{"name":"greeter"}]}`)}),
			[]string{`platform:github.repositories[1].name: "greeter": is already the name of github.repositories[0]`}},
		{"github unknown field", with(map[string]*Value{"platform:github": plain(`{"owner":"acme","repositories":[{"name":"greeter","visibilty":"public"}]}`)}),
			[]string{`platform:github.repositories[0].visibilty: "public": unknown field`}},
		{"setting given as secret", with(map[string]*Value{"platform:environment": secret("dev")}),
			[]string{`platform:environment: [secret]: is a plain setting; it must not be encrypted`}},
		{"all problems at once", with(map[string]*Value{
			"platform:environment": plain("qa"),
			"platform:typo":        plain("x"),
			"platform:services":    plain(`[{"name":"greeter","image":"ghcr.io/acme/greeter:latest","version":"1","replicas":0,"port":-1}]`)}),
			[]string{`platform:environment: "qa"`, `platform:typo: "x"`, `platform:services[0].image:`, `platform:services[0].port: -1`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.values, testEnviron)
			if err == nil {
				t.Fatal("Load accepted invalid config")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t-token") || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks a secret value:\n%v", err)
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret{"hunter2"}
	for _, format := range []string{"%v", "%s", "%+v", "%#v", "%q"} {
		if got := sprintf(format, s); strings.Contains(got, "hunter2") {
			t.Errorf("%s prints the secret: %s", format, got)
		}
	}
	cfg, err := Load(validValues(), testEnviron)
	if err != nil {
		t.Fatal(err)
	}
	if got := sprintf("%+v", cfg); strings.Contains(got, "s3cr3t-token") {
		t.Errorf("config prints the secret: %s", got)
	}
}

func TestFromEnvironment(t *testing.T) {
	t.Setenv("PULUMI_CONFIG", `{"platform:environment":"dev","platform:greeterApiToken":"tok"}`)
	t.Setenv("PULUMI_CONFIG_SECRET_KEYS", `["platform:greeterApiToken"]`)
	values, err := FromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	if v := values["platform:environment"]; v.Raw != "dev" || v.Secret {
		t.Errorf("environment = %+v", v)
	}
	if v := values["platform:greeterApiToken"]; v.Raw != "tok" || !v.Secret {
		t.Errorf("secret = %+v", v)
	}
}

func sprintf(format string, v any) string { return fmt.Sprintf(format, v) }

// testEnviron is the repository itself: build contexts resolve against it.
var testEnviron = Environ{ProjectRoot: "..", Commit: "0123456789abcdef0123456789abcdef01234567"}

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
