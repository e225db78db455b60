package plugin

import (
	"context"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumiprovider "github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Main serves the package until the engine lets go of the plugin.
func Main() error {
	return pulumiprovider.Main(Name, func(host *pulumiprovider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return &server{host: host}, nil
	})
}

// server is the plugin's gRPC server: the Pulumi SDK's component provider
// (sdk/go/pulumi/provider), which gives a construct function the inputs as
// outputs only; this one also gives it the inputs as sent, so that plain
// values are read as they are.
type server struct {
	pulumirpc.UnimplementedResourceProviderServer
	host *pulumiprovider.HostClient
}

func (s *server) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

func (s *server) GetSchema(_ context.Context, req *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	if v := req.GetVersion(); v != 0 {
		return nil, fmt.Errorf("unsupported schema version %d", v)
	}
	return &pulumirpc.GetSchemaResponse{Schema: string(SchemaJSON)}, nil
}

func (s *server) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{
		AcceptSecrets: true, SupportsPreview: true, AcceptResources: true, AcceptOutputs: true,
	}, nil
}

func (s *server) Construct(ctx context.Context, req *pulumirpc.ConstructRequest) (*pulumirpc.ConstructResponse, error) {
	raw, err := plugin.UnmarshalProperties(req.GetInputs(), plugin.MarshalOptions{
		KeepSecrets: true, KeepResources: true, KeepUnknowns: true, KeepOutputValues: true,
	})
	if err != nil {
		return nil, fmt.Errorf("unmarshaling inputs: %w", err)
	}
	return pulumiprovider.Construct(ctx, req, s.host.EngineConn(), func(ctx *pulumi.Context, typ, name string,
		inputs pulumiprovider.ConstructInputs, options pulumi.ResourceOption,
	) (*pulumiprovider.ConstructResult, error) {
		outputs, err := inputs.Map()
		if err != nil {
			return nil, err
		}
		c, err := Construct(ctx, typ, name, raw, outputs, options)
		if err != nil {
			return nil, err
		}
		return pulumiprovider.NewConstructResult(c)
	})
}

func (s *server) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (s *server) Attach(_ context.Context, req *pulumirpc.PluginAttach) (*emptypb.Empty, error) {
	host, err := pulumiprovider.NewHostClient(req.GetAddress())
	if err != nil {
		return nil, err
	}
	s.host = host
	return &emptypb.Empty{}, nil
}

func (s *server) GetMapping(context.Context, *pulumirpc.GetMappingRequest) (*pulumirpc.GetMappingResponse, error) {
	return &pulumirpc.GetMappingResponse{}, nil
}
