// Package otlpload sends traces shaped like the sample service's to an
// OpenTelemetry receiver: load for Jaeger's sizing bench and its e2e test.
package otlpload

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// PostTraces sends traces of spansPerTrace spans each to an OTLP/HTTP
// endpoint, as OTLP/JSON, in one request, and returns the last trace's ID.
// Each span is like the greeter's server span (its attributes,
// app/server.go; its resource, the OpenTelemetry SDK's default).
func PostTraces(ctx context.Context, endpoint string, traces, spansPerTrace int) (lastTraceID string, err error) {
	id := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rand.UintN(256))
		}
		return hex.EncodeToString(b)
	}
	str := func(k, v string) map[string]any {
		return map[string]any{"key": k, "value": map[string]any{"stringValue": v}}
	}
	num := func(k string, v int) map[string]any {
		return map[string]any{"key": k, "value": map[string]any{"intValue": strconv.Itoa(v)}}
	}
	now := time.Now()
	var spans []map[string]any
	for t := 0; t < traces; t++ {
		lastTraceID = id(16)
		traceID, parent := lastTraceID, ""
		for s := 0; s < spansPerTrace; s++ {
			spanID := id(8)
			start := now.Add(time.Duration(s) * time.Millisecond)
			spans = append(spans, map[string]any{
				"traceId": traceID, "spanId": spanID, "parentSpanId": parent, "name": "GET /v1/greet", "kind": 2,
				"startTimeUnixNano": strconv.FormatInt(start.UnixNano(), 10),
				"endTimeUnixNano":   strconv.FormatInt(start.Add(3*time.Millisecond).UnixNano(), 10),
				"attributes": []any{str("http.request.method", "GET"), str("url.path", "/v1/greet"), str("http.route", "/v1/greet"),
					num("greeter.name_length", 6), num("http.response.status_code", 200)},
				"status": map[string]any{"code": 1},
			})
			parent = spanID
		}
	}
	body, err := json.Marshal(map[string]any{"resourceSpans": []any{map[string]any{
		"resource": map[string]any{"attributes": []any{str("service.name", "greeter"), str("telemetry.sdk.language", "go"),
			str("telemetry.sdk.name", "opentelemetry"), str("telemetry.sdk.version", "1.38.0"), str("deployment.environment.name", "dev")}},
		"scopeSpans": []any{map[string]any{"scope": map[string]any{"name": "greeter"}, "spans": spans}},
	}}})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s answered %s", endpoint, resp.Status)
	}
	return lastTraceID, nil
}
