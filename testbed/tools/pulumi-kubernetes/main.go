// Command pulumi-resource-kubernetes is the Kubernetes resource plugin, built
// from the provider module. Upstream's own main embeds generated files that
// the module zip lacks; the build copies schema.json and terraform-mapping.json
// from the module into schema/ (git-ignored) before compiling this file.
package main

import (
	"bytes"
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema/schema.json
var schema []byte

//go:embed schema/terraform-mapping.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, versionedSchema(schema, version.Version), terraformMapping)
}

// versionedSchema stamps the plugin version into the schema, as upstream's
// generate step does, by opening the top-level object with a "version" field.
func versionedSchema(schema []byte, version string) []byte {
	body := bytes.TrimLeft(schema, " \t\r\n")
	if len(body) == 0 || body[0] != '{' {
		return schema
	}
	return append([]byte(`{"version":"`+version+`",`), body[1:]...)
}
