package component

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// StackName is the fully qualified name of a stack of this project, as a
// stack reference names it: organization/project/stack.
func StackName(ctx *pulumi.Context, stack string) string {
	return ctx.Organization() + "/" + ctx.Project() + "/" + stack
}

// LastOutput is the stack's own output key as its last run left it (the
// engine reads the last checkpoint's outputs), read through a stack
// reference to itself named refName; nil when there is none. Unlike an
// Output it is known when the program declares its resources, so what a run
// may change can be checked against what the last one deployed.
func LastOutput(ctx *pulumi.Context, refName, key string, opts ...pulumi.ResourceOption) (any, error) {
	ref, err := pulumi.NewStackReference(ctx, refName, &pulumi.StackReferenceArgs{Name: pulumi.String(StackName(ctx, ctx.Stack()))}, opts...)
	if err != nil {
		return nil, err
	}
	details, err := ref.GetOutputDetails(key)
	if err != nil {
		return nil, err
	}
	if details.Value != nil {
		return details.Value, nil
	}
	return details.SecretValue, nil
}
