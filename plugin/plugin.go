// Package plugin serves the platform's components as a Pulumi component
// package named "platform": the plugin cmd/pulumi-resource-platform
// constructs them for programs in any language (YAML, TypeScript, Python),
// with the schema that schema.json holds, generated from the components'
// Args (Schema). The Go program keeps calling the components directly.
//
// Inputs are the components' Args: the JSON names of their config keys,
// decoded over the defaults of the profile that the input "environment"
// picks, exactly as stack config is in the Go program, and the fields the
// program fills that a `package:"name"` tag exposes. Where the Args name a
// secret config key (a service's secretEnv, say), the plugin reads it from
// the calling program's stack config, as the Go program reads its own. The
// provider a component needs (Kubernetes, GitHub, Docker) is passed in the
// resource's providers option; there is no ambient default.
//
// The schema generator and the decoder are this package's, not
// github.com/pulumi/pulumi-go-provider's infer. Tried at v1.5.0 (2026-12-04):
// it compiles against the pinned sdk/v3 v3.274.1 with pkg/v3 v3.274.1 (a
// one-component infer provider: 43 s warm, 92 s from an empty build cache,
// nine pkg/v3 packages), so it could serve this package, but not these
// components as they are: infer reads a field's schema from `pulumi:"name"`
// tags (internal/introspect/introspect.go:49), so every Args field would
// name its input twice beside its `json` tag; it decodes inputs into the Go
// zero value, so an unset input and an explicit 0 or "" are one (stack
// config and this plugin both decode over the environment's profile, where
// `replicas: 0` is refused, never defaulted); its defaults are static per
// field (Annotator.SetDefault, infer/resource.go:375), while ours follow the
// "environment" input; and descriptions come from Annotate methods, not the
// doc comments the components already carry (docs written twice). The
// plugin is served with the pinned SDK's own provider package
// (sdk/go/pulumi/provider).
package plugin

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/component"
	"github.com/acme/platform/components/image"
	"github.com/acme/platform/components/observability"
	"github.com/acme/platform/components/repository"
	"github.com/acme/platform/components/workload"
	"github.com/acme/platform/internal/validate"
)

// Name is the package's name: the first part of every type token.
const Name = "platform"

// Version is the package's version, the plugin's and its SDKs'.
const Version = "0.1.0"

// Environments are the values of the input "environment", which picks the
// profile of defaults a component's inputs are decoded over.
var Environments = component.Environments

// Component is one component the package serves.
type Component struct {
	// Token is its type token, platform:<module>:<Type>.
	Token string
	// Args is the type of its arguments, Resource of the component itself
	// (its `pulumi:"name"` fields are the outputs).
	Args, Resource reflect.Type
	// Provider is the package whose provider it needs (kubernetes, github,
	// docker), found in the resource's providers option.
	Provider string
	// profile returns the defaults of an environment; nil: the component has
	// one set of defaults and no "environment" input.
	profile func(environment string) reflect.Value
	// fromConfig fills what the args name as secret config keys.
	fromConfig func(ctx *pulumi.Context, args reflect.Value, p *validate.Problems)
	// construct declares the component with the given args.
	construct func(ctx *pulumi.Context, name string, args reflect.Value, provider pulumi.ProviderResource, opts ...pulumi.ResourceOption) (pulumi.ComponentResource, error)
}

// Components are the components the package serves.
var Components = []Component{
	define(workload.TypeToken, "kubernetes", workload.Profile, workload.Args.WithSecrets, workload.NewWorkload),
	define(observability.TypeToken, "kubernetes", observability.Profile, nil, observability.NewObservability),
	define(repository.TypeToken, "github", repository.Profile, repository.Args.WithSecrets, repository.NewRepository),
	define(image.TypeToken, "docker", nil, image.Args.WithSecrets, image.NewImage),
}

// define describes a component by its constructor, the provider package it
// needs, its profile (may be nil) and how its Args fill the secret config
// keys they name (may be nil).
func define[A component.Args[A], C pulumi.ComponentResource](token, provider string, profile func(string) A,
	withSecrets func(A, component.SecretLookup) A,
	construct func(*pulumi.Context, string, A, pulumi.ProviderResource, ...pulumi.ResourceOption) (C, error),
) Component {
	c := Component{
		Token: token, Provider: provider,
		Args: reflect.TypeFor[A](), Resource: reflect.TypeFor[C]().Elem(),
		construct: func(ctx *pulumi.Context, name string, args reflect.Value, p pulumi.ProviderResource, opts ...pulumi.ResourceOption) (pulumi.ComponentResource, error) {
			return construct(ctx, name, args.Interface().(A), p, opts...)
		},
	}
	if profile != nil {
		c.profile = func(environment string) reflect.Value { return reflect.ValueOf(profile(environment)) }
	}
	if withSecrets != nil {
		c.fromConfig = func(ctx *pulumi.Context, args reflect.Value, p *validate.Problems) {
			args.Set(reflect.ValueOf(withSecrets(args.Interface().(A), callerSecrets(ctx, p))))
		}
	}
	return c
}

// module is the middle part of the component's type token.
func (c Component) module() string { return strings.Split(c.Token, ":")[1] }

// lookup finds the component of a type token.
func lookup(token string) (Component, error) {
	for _, c := range Components {
		if c.Token == token {
			return c, nil
		}
	}
	return Component{}, fmt.Errorf("unknown resource type %s: this package serves %s", token, tokens())
}

func tokens() string {
	var out []string
	for _, c := range Components {
		out = append(out, c.Token)
	}
	return strings.Join(out, ", ")
}
