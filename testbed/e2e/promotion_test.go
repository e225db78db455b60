//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/cli/driver"
	"github.com/acme/platform/components/image"
)

// TestPromotionReadsTheOtherStacksState promotes an image on the real engine
// and file backend, as prod promotes dev's: a stack "dev" of a project named
// platform exports the services output the program exports; a stack "prod"
// declares the image component with imageFrom: dev, whose stack reference
// must find dev's state and yield dev's digest. No resource plugin is needed.
func TestPromotionReadsTheOtherStacksState(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: platform\nruntime: go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, stack := range []string{"dev", "prod"} {
		if err := os.WriteFile(filepath.Join(dir, "Pulumi."+stack+".yaml"), []byte("config: {}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PULUMI_BACKEND_URL", "")
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "e2e")
	devImage := "ghcr.io/acme/greeter@sha256:" + strings.Repeat("d", 64)

	run := func(stack string, program func(ctx *pulumi.Context) error) map[string]any {
		t.Helper()
		s, err := driver.Open(t.Context(), driver.Options{ProjectDir: dir, Stack: stack, Create: true,
			Program: func(auto.ConfigMap) pulumi.RunFunc { return program }})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Up(t.Context(), false); err != nil {
			t.Fatalf("up of %s: %v", stack, err)
		}
		outputs, err := s.Outputs(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return outputs
	}
	run("dev", func(ctx *pulumi.Context) error {
		ctx.Export("services", pulumi.Map{"greeter": pulumi.Map{"image": pulumi.String(devImage)}})
		return nil
	})
	outputs := run("prod", func(ctx *pulumi.Context) error {
		img, err := image.NewImage(ctx, "greeter", image.Args{Source: image.Source{PromoteFrom: "dev"}, Service: "greeter"}, nil)
		if err != nil {
			return err
		}
		ctx.Export("image", img.Reference)
		return nil
	})
	if outputs["image"] != devImage {
		t.Fatalf("prod's promoted image %v, want dev's %s", outputs["image"], devImage)
	}
}
