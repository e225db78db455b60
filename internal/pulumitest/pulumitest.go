// Package pulumitest runs Pulumi programs under pulumi.WithMocks and records
// every registered resource, so that tests assert on the resource graph:
// types, names, inputs, parents, options and which inputs are secret.
package pulumitest

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Resource is one registered resource as the engine would receive it.
type Resource struct {
	Type   string
	Name   string
	URN    string
	Parent string // URN of the parent; empty for children of the stack
	// Inputs are the resource's inputs; secret values keep their secret wrapper.
	Inputs resource.PropertyMap
	// Provider is the provider reference ("urn::id") the resource was given.
	Provider string
	Protect  bool
	Custom   bool
	// DeletedWith is the URN of the resource whose deletion deletes this one.
	DeletedWith string
	// Dependencies are the URNs of the resources this one waits for.
	Dependencies []string
	// ReadID is the ID of an existing resource the program reads ("" for
	// resources it declares).
	ReadID string
	// ImportID is the ID of an existing resource the program adopts (the
	// import option), "" for one it creates.
	ImportID string
	// DeleteBeforeReplace: a replacement deletes the old resource first.
	DeleteBeforeReplace bool
	// IgnoreChanges are the input paths whose changes the engine ignores.
	IgnoreChanges []string
	// RetainOnDelete: deleting the resource leaves the object where it is.
	RetainOnDelete bool
}

// Secret reports whether the input at path (dot-separated keys, e.g.
// "stringData.API_KEY") is a secret, or sits inside one.
func (r Resource) Secret(path string) bool {
	v, ok := lookup(resource.NewProperty(r.Inputs), path, true)
	return ok && v.IsSecret()
}

// MustInput is Input, failing the test when there is no input at path.
func (r Resource) MustInput(t testing.TB, path string) any {
	t.Helper()
	v, ok := r.Input(path)
	if !ok {
		t.Fatalf("%s %s has no input %s", r.Type, r.Name, path)
	}
	return v
}

// Input returns the plain value at path (dot-separated keys and [i] indexes
// written as .i), unwrapping secrets, and whether it exists.
func (r Resource) Input(path string) (any, bool) {
	v, ok := lookup(resource.NewProperty(r.Inputs), path, false)
	if !ok {
		return nil, false
	}
	return unwrap(v).Mappable(), true
}

func lookup(v resource.PropertyValue, path string, stopAtSecret bool) (resource.PropertyValue, bool) {
	for _, key := range strings.Split(path, ".") {
		if v.IsSecret() {
			if stopAtSecret {
				return v, true
			}
			v = v.SecretValue().Element
		}
		switch {
		case v.IsObject():
			next, ok := v.ObjectValue()[resource.PropertyKey(key)]
			if !ok {
				return resource.PropertyValue{}, false
			}
			v = next
		case v.IsArray():
			var i int
			if _, err := fmt.Sscanf(key, "%d", &i); err != nil || i < 0 || i >= len(v.ArrayValue()) {
				return resource.PropertyValue{}, false
			}
			v = v.ArrayValue()[i]
		default:
			return resource.PropertyValue{}, false
		}
	}
	return v, true
}

func unwrap(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return unwrap(v.SecretValue().Element)
	case v.IsObject():
		m := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			m[k] = unwrap(e)
		}
		return resource.NewProperty(m)
	case v.IsArray():
		var a []resource.PropertyValue
		for _, e := range v.ArrayValue() {
			a = append(a, unwrap(e))
		}
		return resource.NewProperty(a)
	}
	return v
}

// Graph is what a program registered.
type Graph struct {
	mu        sync.Mutex
	Resources []Resource
}

// OfType returns the resources of the given type token, in registration order.
func (g *Graph) OfType(typ string) []Resource {
	var out []Resource
	for _, r := range g.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// One returns the only resource of the given type and name, failing the test otherwise.
func (g *Graph) One(t testing.TB, typ, name string) Resource {
	t.Helper()
	var found []Resource
	for _, r := range g.OfType(typ) {
		if r.Name == name {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s named %q, found %d; registered:\n%s", typ, name, len(found), g)
	}
	return found[0]
}

// String lists the resources, one "type name" per line, sorted.
func (g *Graph) String() string {
	var lines []string
	for _, r := range g.Resources {
		lines = append(lines, r.Type+" "+r.Name)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// mocks records registrations and answers like a provider would: outputs echo
// inputs, and Kubernetes objects without a name get a generated one, as the
// real provider's auto-naming does.
type mocks struct {
	project, stack string
	graph          *Graph
}

func (m mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	outputs := args.Inputs.Copy()
	if strings.HasPrefix(args.TypeToken, "kubernetes:") {
		outputs = withGeneratedName(outputs, args.Name)
	}
	if args.TypeToken == "docker:index/image:Image" {
		outputs = withRepoDigest(outputs)
	}
	if args.TypeToken == "pulumi:pulumi:StackReference" {
		// What the backend holds for the referenced stack (StackOutputs): the
		// SDK reads a stack reference, with the stack's name as its id.
		name := args.ReadRPC.GetId()
		stackOutputs, _ := referenced.Load(name)
		out, _ := stackOutputs.(map[string]any)
		outputs["name"] = resource.NewProperty(name)
		outputs["outputs"] = resource.NewProperty(resource.NewPropertyMapFromMap(out))
		outputs["secretOutputNames"] = resource.NewProperty([]resource.PropertyValue{})
	}
	if args.TypeToken == "github:index/repository:Repository" {
		// What GitHub computes: the node id and the owner-qualified names.
		outputs["nodeId"] = resource.NewProperty("R_" + args.Name)
		outputs["fullName"] = resource.NewProperty("acme/" + args.Name)
		outputs["htmlUrl"] = resource.NewProperty("https://github.com/acme/" + args.Name)
	}
	m.graph.mu.Lock()
	defer m.graph.mu.Unlock()
	m.graph.Resources = append(m.graph.Resources, Resource{
		Type:     args.TypeToken,
		Name:     args.Name,
		URN:      m.urn(args.RegisterRPC.GetParent()+args.ReadRPC.GetParent(), args.TypeToken, args.Name),
		Parent:   args.RegisterRPC.GetParent() + args.ReadRPC.GetParent(),
		ReadID:   args.ReadRPC.GetId(),
		Inputs:   args.Inputs,
		Provider: args.Provider,
		Protect:  args.RegisterRPC.GetProtect(),
		Custom:   args.Custom,

		DeletedWith:         args.RegisterRPC.GetDeletedWith(),
		Dependencies:        args.RegisterRPC.GetDependencies(),
		ImportID:            args.RegisterRPC.GetImportId(),
		DeleteBeforeReplace: args.RegisterRPC.GetDeleteBeforeReplace(),
		IgnoreChanges:       args.RegisterRPC.GetIgnoreChanges(),
		RetainOnDelete:      args.RegisterRPC.GetRetainOnDelete(),
	})
	return args.Name + "-id", outputs, nil
}

// urn computes a resource's URN as the mock monitor does, so that parents match.
func (m mocks) urn(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(m.stack), tokens.PackageName(m.project), parentType, tokens.Type(typ), name))
}

func (m mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	if answer, ok := answers.Load(args.Token); ok {
		return resource.NewPropertyMapFromMap(answer.(func(map[string]any) map[string]any)(args.Args.Mappable())), nil
	}
	return args.Args, nil
}

// answers holds what providers answer to the functions that programs under
// test invoke, by function token.
var answers sync.Map

// Answer makes an invoke of the function token (github:index/getActionsVariables:getActionsVariables)
// answer what answer returns for the invoke's arguments, until the returned
// function restores the mocks' default, which echoes the arguments.
func Answer(token string, answer func(args map[string]any) map[string]any) (restore func()) {
	answers.Store(token, answer)
	return func() { answers.Delete(token) }
}

// withGeneratedName gives an unnamed Kubernetes object the provider's kind of
// name: the resource name with a suffix derived from its inputs, so that a
// change of content gives a new name, as a replacement would.
func withGeneratedName(outputs resource.PropertyMap, name string) resource.PropertyMap {
	meta, ok := outputs["metadata"]
	if !ok || !meta.IsObject() {
		return outputs
	}
	if _, named := meta.ObjectValue()["name"]; named {
		return outputs
	}
	m := meta.ObjectValue().Copy()
	m["name"] = resource.NewProperty(fmt.Sprintf("%s-%08x", name, fingerprint(outputs)))
	outputs["metadata"] = resource.NewProperty(m)
	return outputs
}

// FakeDigest is the digest the mocks give every built image.
const FakeDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// withRepoDigest answers like a push: repository@digest, from the image name.
func withRepoDigest(outputs resource.PropertyMap) resource.PropertyMap {
	name, ok := outputs["imageName"]
	if !ok || !name.IsString() {
		return outputs
	}
	repository := name.StringValue()
	if i := strings.LastIndex(repository, ":"); i > strings.LastIndex(repository, "/") {
		repository = repository[:i] // drop the tag
	}
	outputs["repoDigest"] = resource.NewProperty(repository + "@" + FakeDigest)
	return outputs
}

func fingerprint(props resource.PropertyMap) uint32 {
	var h uint32 = 2166136261
	for _, b := range []byte(fmt.Sprint(unwrap(resource.NewProperty(props)).Mappable())) {
		h = (h ^ uint32(b)) * 16777619
	}
	return h
}

// referenced holds the outputs of the stacks that programs under test
// reference, by fully qualified name.
var referenced sync.Map

// StackOutputs makes a stack reference to name (organization/project/stack)
// read outputs, until the returned function restores what it read before
// (t.Cleanup takes it).
func StackOutputs(name string, outputs map[string]any) (restore func()) {
	before, had := referenced.Swap(name, outputs)
	return func() {
		if had {
			referenced.Store(name, before)
		} else {
			referenced.Delete(name)
		}
	}
}

// Run runs program under mocks for the given project and stack and returns
// what it registered, along with the program's error.
func Run(t testing.TB, project, stack string, program pulumi.RunFunc, opts ...pulumi.RunOption) (*Graph, error) {
	t.Helper()
	graph := &Graph{}
	opts = append([]pulumi.RunOption{pulumi.WithMocks(project, stack, mocks{project: project, stack: stack, graph: graph})}, opts...)
	err := pulumi.RunErr(program, opts...)
	return graph, err
}

// InProject runs the program as if its Pulumi.yaml were in dir.
func InProject(dir string) pulumi.RunOption {
	return func(info *pulumi.RunInfo) { info.RootDirectory = dir }
}

// Component runs one component under mocks as a stack declares it: with an
// explicit provider, which newProvider makes. Its tests call it through a
// deploy of their own, and Must when the component has to succeed.
func Component[P pulumi.ProviderResource](t testing.TB, stack string, newProvider func(*pulumi.Context) (P, error),
	declare func(*pulumi.Context, pulumi.ProviderResource) error) (*Graph, error) {
	t.Helper()
	return Run(t, "platform", stack, func(ctx *pulumi.Context) error {
		provider, err := newProvider(ctx)
		if err != nil {
			return err
		}
		return declare(ctx, provider)
	})
}

// Must is the graph of a run that has to succeed.
func Must(t testing.TB, g *Graph, err error) *Graph {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// PodSpec is the pod spec of a workload or Job.
func (r Resource) PodSpec() (map[string]any, bool) {
	for _, p := range []string{"spec.template.spec", "spec.jobTemplate.spec.template.spec"} {
		if v, ok := r.Input(p); ok {
			spec, ok := v.(map[string]any)
			return spec, ok
		}
	}
	return nil, false
}

// Containers are a pod spec's init containers and containers.
func Containers(spec map[string]any) []map[string]any {
	var out []map[string]any
	for _, key := range []string{"initContainers", "containers"} {
		list, _ := spec[key].([]any)
		for _, c := range list {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// CheckChildren checks that every Kubernetes object of the graph is a child
// of the component of type typ named name and uses the explicit provider
// named provider, as every component's children must.
func (g *Graph) CheckChildren(t testing.TB, typ, name, provider string) {
	t.Helper()
	component := g.One(t, typ, name)
	checked := 0
	for _, r := range g.Resources {
		if !strings.HasPrefix(r.Type, "kubernetes:") || r.Type == "pulumi:providers:kubernetes" {
			continue
		}
		checked++
		if r.Parent != component.URN {
			t.Errorf("%s %s: parent %q, want the component", r.Type, r.Name, r.Parent)
		}
		if !strings.Contains(r.Provider, "pulumi:providers:kubernetes::"+provider) {
			t.Errorf("%s %s: provider %q, want the explicit one", r.Type, r.Name, r.Provider)
		}
	}
	if checked == 0 {
		t.Errorf("%s %s declares no Kubernetes object", typ, name)
	}
}
