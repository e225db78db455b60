package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// packCost is what the platform's policy pack costs a preview: starting and
// configuring it, and judging every resource.
type packCost struct {
	load, evaluation time.Duration
	findings         int
}

// measurePack runs the policy pack beside the platform command as the engine
// does (the executable, its port on the first line of its output, then
// gRPC): GetAnalyzerInfo and Configure with every rule's default (load), then
// Analyze for each resource of the stack's state and AnalyzeStack over all
// of them (evaluation), each call as the engine makes it in a preview.
func measurePack(ctx context.Context, platform, state string) (packCost, error) {
	var cost packCost
	resources, err := stateResources(state)
	if err != nil {
		return cost, err
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, filepath.Join(filepath.Dir(platform), "pulumi-analyzer-policy-platform"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return cost, err
	}
	if err := cmd.Start(); err != nil {
		return cost, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	port, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return cost, fmt.Errorf("reading the analyzer's port: %w", err)
	}
	conn, err := grpc.NewClient("127.0.0.1:"+strings.TrimSpace(port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return cost, err
	}
	defer conn.Close()
	client := pulumirpc.NewAnalyzerClient(conn)
	info, err := client.GetAnalyzerInfo(ctx, &emptypb.Empty{})
	if err != nil {
		return cost, err
	}
	config := map[string]*pulumirpc.PolicyConfig{}
	for _, p := range info.Policies {
		config[p.Name] = &pulumirpc.PolicyConfig{EnforcementLevel: p.EnforcementLevel}
	}
	if _, err := client.Configure(ctx, &pulumirpc.ConfigureAnalyzerRequest{PolicyConfig: config}); err != nil {
		return cost, err
	}
	cost.load = time.Since(start)

	start = time.Now()
	for _, r := range resources {
		res, err := client.Analyze(ctx, &pulumirpc.AnalyzeRequest{Urn: r.Urn, Type: r.Type, Name: r.Name, Properties: r.Properties})
		if err != nil {
			return cost, fmt.Errorf("Analyze %s: %w", r.Urn, err)
		}
		cost.findings += len(res.Diagnostics)
	}
	res, err := client.AnalyzeStack(ctx, &pulumirpc.AnalyzeStackRequest{Resources: resources})
	if err != nil {
		return cost, fmt.Errorf("AnalyzeStack: %w", err)
	}
	cost.findings += len(res.Diagnostics)
	cost.evaluation = time.Since(start)
	return cost, nil
}

// stateResources are the local stack's resources in a file backend's state,
// their inputs as the engine sends them to an analyzer (a secret's
// ciphertext replaced by a placeholder value).
func stateResources(state string) ([]*pulumirpc.AnalyzerResource, error) {
	data, err := os.ReadFile(checkpoint(state))
	if err != nil {
		return nil, err
	}
	var file struct {
		Checkpoint struct {
			Latest struct {
				Resources []struct {
					URN    string         `json:"urn"`
					Type   string         `json:"type"`
					Inputs map[string]any `json:"inputs"`
				} `json:"resources"`
			} `json:"latest"`
		} `json:"checkpoint"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, err
	}
	var out []*pulumirpc.AnalyzerResource
	for _, r := range file.Checkpoint.Latest.Resources {
		inputs := map[string]any{}
		if r.Inputs != nil {
			inputs = withSecretPlaceholders(r.Inputs).(map[string]any)
		}
		props, err := structpb.NewStruct(inputs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.URN, err)
		}
		out = append(out, &pulumirpc.AnalyzerResource{Urn: r.URN, Type: r.Type, Name: r.URN[strings.LastIndex(r.URN, "::")+2:], Properties: props})
	}
	return out, nil
}

// withSecretPlaceholders is v with every secret's ciphertext replaced by
// a plain placeholder, as a secret value travels to an analyzer.
func withSecretPlaceholders(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if v[resource.SigKey] == resource.SecretSig {
			return map[string]any{resource.SigKey: resource.SecretSig, "value": "[secret]"}
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = withSecretPlaceholders(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = withSecretPlaceholders(e)
		}
		return out
	}
	return v
}
