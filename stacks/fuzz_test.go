package stacks

import (
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary service config and secrets to the loader: it must
// never panic, must either accept or explain, and must never echo a secret.
func FuzzLoad(f *testing.F) {
	f.Add("dev", `[{"name":"greeter","image":"ghcr.io/acme/greeter@`+digest+`","version":"0.1.0"}]`, "token", true)
	f.Add("dev", `[{"name":"greeter","version":"1","build":{"repository":"ghcr.io/acme/greeter","username":"bot","passwordSecret":"apiToken"}}]`, "token", true)
	f.Add("prod", `[{"name":"a","image":"r/a@sha256:`+strings.Repeat("a", 64)+`","version":"1","replicas":3,"autoscaling":{"maxReplicas":1}}]`, "", false)
	f.Add("local", `{"name":1}`, "x", true)
	f.Add("dev", `[{"resources":{"limits":{"cpu":"1e3"}},"egress":[{"cidr":"::/0"}]}]`, "y", true)
	f.Fuzz(func(t *testing.T, env, services, secretValue string, secretFlag bool) {
		const marker = "SECRET-MARKER-"
		values := map[string]Value{
			"platform:environment": {Raw: env},
			"platform:services":    {Raw: services},
			"platform:apiToken":    {Raw: marker + secretValue, Secret: secretFlag},
		}
		cfg, err := Load(values, testEnviron)
		if err == nil {
			if cfg == nil || len(cfg.Services) == 0 {
				t.Fatalf("accepted config without services: %+v", cfg)
			}
			return
		}
		if secretFlag && strings.Contains(err.Error(), marker) {
			t.Fatalf("error echoes a secret value: %v", err)
		}
	})
}
