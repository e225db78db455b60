package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// otlpExporter sends spans to an OpenTelemetry collector over OTLP/HTTP with
// the protocol's JSON encoding. It stands in for the upstream otlptracehttp
// exporter, whose protobuf and gRPC dependencies double the binary (13.7 MB
// against 7.2 MB stripped) and would put the image over its 8 MB budget.
// It reads the standard variables: OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT,
// OTEL_EXPORTER_OTLP_(TRACES_)HEADERS and OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT.
type otlpExporter struct {
	url     string
	headers map[string]string
	client  *http.Client
}

func newOTLPExporter(getenv func(string) string) (*otlpExporter, error) {
	target := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if target == "" {
		base := getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
		if base == "" {
			return nil, fmt.Errorf("no OTLP endpoint set")
		}
		target = strings.TrimSuffix(base, "/") + "/v1/traces"
	}
	if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("OTLP endpoint %q: must be an http(s) URL", target)
	}
	headers := map[string]string{}
	for _, pair := range strings.Split(firstSet(getenv, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"), ",") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			continue
		}
		key, err1 := url.QueryUnescape(strings.TrimSpace(k))
		value, err2 := url.QueryUnescape(strings.TrimSpace(v))
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("OTLP headers: %q is not URL-encoded", pair)
		}
		headers[key] = value
	}
	timeout := 10 * time.Second
	if v := firstSet(getenv, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return nil, fmt.Errorf("OTLP timeout %q: must be milliseconds", v)
		}
		timeout = time.Duration(ms) * time.Millisecond
	}
	return &otlpExporter{url: target, headers: headers, client: &http.Client{Timeout: timeout}}, nil
}

func firstSet(getenv func(string) string, keys ...string) string {
	for _, k := range keys {
		if v := getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// ExportSpans posts one batch of spans.
func (e *otlpExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	body, err := json.Marshal(encodeSpans(spans))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range e.headers {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return fmt.Errorf("exporting %d spans: %w", len(spans), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("exporting %d spans: collector answered %s", len(spans), resp.Status)
	}
	return nil
}

// Shutdown has nothing to release: the batcher flushes before calling it.
func (e *otlpExporter) Shutdown(context.Context) error { return nil }

// The OTLP/JSON request shape (opentelemetry-proto, JSON mapping): ids in
// hex, 64-bit integers as strings, enums as numbers.
type (
	exportRequest struct {
		ResourceSpans []resourceSpans `json:"resourceSpans"`
	}
	resourceSpans struct {
		Resource   otlpResource `json:"resource"`
		ScopeSpans []scopeSpans `json:"scopeSpans"`
	}
	otlpResource struct {
		Attributes []keyValue `json:"attributes"`
	}
	scopeSpans struct {
		Scope struct {
			Name    string `json:"name"`
			Version string `json:"version,omitempty"`
		} `json:"scope"`
		Spans []otlpSpan `json:"spans"`
	}
	otlpSpan struct {
		TraceID           string     `json:"traceId"`
		SpanID            string     `json:"spanId"`
		ParentSpanID      string     `json:"parentSpanId,omitempty"`
		Name              string     `json:"name"`
		Kind              int        `json:"kind"`
		StartTimeUnixNano string     `json:"startTimeUnixNano"`
		EndTimeUnixNano   string     `json:"endTimeUnixNano"`
		Attributes        []keyValue `json:"attributes,omitempty"`
		Status            struct {
			Code    int    `json:"code,omitempty"`
			Message string `json:"message,omitempty"`
		} `json:"status"`
	}
	keyValue struct {
		Key   string   `json:"key"`
		Value anyValue `json:"value"`
	}
	anyValue struct {
		StringValue *string  `json:"stringValue,omitempty"`
		BoolValue   *bool    `json:"boolValue,omitempty"`
		IntValue    *string  `json:"intValue,omitempty"`
		DoubleValue *float64 `json:"doubleValue,omitempty"`
	}
)

// encodeSpans groups spans by resource and instrumentation scope.
func encodeSpans(spans []sdktrace.ReadOnlySpan) exportRequest {
	var req exportRequest
	byResource := map[string]int{}
	byScope := map[[2]string]int{}
	for _, s := range spans {
		resKey := s.Resource().Encoded(attribute.DefaultEncoder())
		ri, ok := byResource[resKey]
		if !ok {
			ri = len(req.ResourceSpans)
			byResource[resKey] = ri
			req.ResourceSpans = append(req.ResourceSpans, resourceSpans{Resource: otlpResource{Attributes: keyValues(s.Resource().Attributes())}})
		}
		rs := &req.ResourceSpans[ri]
		scope := s.InstrumentationScope()
		si, ok := byScope[[2]string{resKey, scope.Name}]
		if !ok {
			si = len(rs.ScopeSpans)
			byScope[[2]string{resKey, scope.Name}] = si
			rs.ScopeSpans = append(rs.ScopeSpans, scopeSpans{})
			rs.ScopeSpans[si].Scope.Name, rs.ScopeSpans[si].Scope.Version = scope.Name, scope.Version
		}
		span := otlpSpan{
			TraceID:           s.SpanContext().TraceID().String(),
			SpanID:            s.SpanContext().SpanID().String(),
			Name:              s.Name(),
			Kind:              int(s.SpanKind()),
			StartTimeUnixNano: strconv.FormatInt(s.StartTime().UnixNano(), 10),
			EndTimeUnixNano:   strconv.FormatInt(s.EndTime().UnixNano(), 10),
			Attributes:        keyValues(s.Attributes()),
		}
		if parent := s.Parent(); parent.IsValid() {
			span.ParentSpanID = parent.SpanID().String()
		}
		span.Status.Code, span.Status.Message = otlpStatusCode(s.Status().Code), s.Status().Description
		rs.ScopeSpans[si].Spans = append(rs.ScopeSpans[si].Spans, span)
	}
	return req
}

// otlpStatusCode maps Go's status codes to OTLP's, whose numbering differs:
// go.opentelemetry.io/otel/codes has Unset 0, Error 1, Ok 2; the OTLP
// protocol (opentelemetry-proto, trace/v1/trace.proto, Status.StatusCode)
// has STATUS_CODE_UNSET 0, STATUS_CODE_OK 1, STATUS_CODE_ERROR 2.
func otlpStatusCode(c codes.Code) int {
	switch c {
	case codes.Ok:
		return 1
	case codes.Error:
		return 2
	}
	return 0
}

func keyValues(attrs []attribute.KeyValue) []keyValue {
	out := make([]keyValue, 0, len(attrs))
	for _, a := range attrs {
		var v anyValue
		switch a.Value.Type() {
		case attribute.BOOL:
			b := a.Value.AsBool()
			v.BoolValue = &b
		case attribute.INT64:
			i := strconv.FormatInt(a.Value.AsInt64(), 10)
			v.IntValue = &i
		case attribute.FLOAT64:
			f := a.Value.AsFloat64()
			v.DoubleValue = &f
		default:
			s := a.Value.Emit()
			v.StringValue = &s
		}
		out = append(out, keyValue{Key: string(a.Key), Value: v})
	}
	return out
}
