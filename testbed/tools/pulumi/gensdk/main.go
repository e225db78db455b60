// Command gensdk checks a Pulumi package schema and generates its TypeScript
// and Python SDKs with the code generators of the pinned pulumi/pkg/v3: what
// `pulumi package gen-sdk` runs through the nodejs and python language hosts,
// whose modules the Go module proxy does not serve.
//
// Usage: gensdk SCHEMA_JSON OUT_DIR   writes OUT_DIR/nodejs and OUT_DIR/python
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

// tool names the generator in the files' headers.
const tool = "pulumi package gen-sdk (pulumi/pkg/v3 codegen, testbed/tools/pulumi/gensdk)"

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gensdk SCHEMA_JSON OUT_DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "gensdk:", err)
		os.Exit(1)
	}
}

func run(schemaFile, out string) error {
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		return err
	}
	generators := map[string]func(*schema.Package) (map[string][]byte, error){
		"nodejs": func(p *schema.Package) (map[string][]byte, error) {
			return nodejs.GeneratePackage(tool, p, nil, nil, false, noReferences{})
		},
		"python": func(p *schema.Package) (map[string][]byte, error) {
			return python.GeneratePackage(tool, p, nil, noReferences{})
		},
	}
	for _, language := range []string{"nodejs", "python"} {
		// Each generator records its language's settings in the package:
		// bind a fresh one for each.
		var spec schema.PackageSpec
		if err := json.Unmarshal(data, &spec); err != nil {
			return fmt.Errorf("%s: %w", schemaFile, err)
		}
		pkg, diags, err := schema.BindSpec(spec, noReferences{}, schema.ValidationOptions{})
		if err != nil {
			return err
		}
		if diags.HasErrors() {
			return fmt.Errorf("%s is not a valid package schema: %s", schemaFile, diags.Error())
		}
		files, err := generators[language](pkg)
		if err != nil {
			return fmt.Errorf("%s: %w", language, err)
		}
		dir := filepath.Join(out, language)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		for name, content := range files {
			path := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(path, content, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// noReferences loads no other package: the platform's schema refers to none.
type noReferences struct{}

var errNoReferences = errors.New("the schema refers to another package; this generator loads none")

func (noReferences) LoadPackage(string, *semver.Version) (*schema.Package, error) {
	return nil, errNoReferences
}

func (noReferences) LoadPackageV2(context.Context, *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, errNoReferences
}

func (noReferences) LoadPackageReference(string, *semver.Version) (schema.PackageReference, error) {
	return nil, errNoReferences
}

func (noReferences) LoadPackageReferenceV2(context.Context, *schema.PackageDescriptor) (schema.PackageReference, error) {
	return nil, errNoReferences
}
