// Package awslambda adapts ecs-medic's handlers to the shapes AWS Lambda invokes them with:
// EventBridge events, the reconciler's schedule, and Lambda Function URL requests. The functions
// under functions/ are only wiring around these.
package awslambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/chatops"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
	"github.com/ecs-medic/ecs-medic/internal/reconcile"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
)

// maxLoggedEvent bounds how much of a rejected event is kept in the log.
const maxLoggedEvent = 8 << 10

func requestLog(ctx context.Context, log *zap.Logger) *zap.Logger {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return log.With(zap.String("aws_request_id", lc.AwsRequestID))
	}
	return log
}

// Events handles one EventBridge event. It returns an error only when a retry can help (the
// store failed), so Lambda retries and then dead-letters it. A malformed or unsupported event
// cannot be fixed by a retry: it is logged once, with its body, and acknowledged.
func Events(p *pipeline.Pipeline, log *zap.Logger) func(context.Context, json.RawMessage) (pipeline.Result, error) {
	return func(ctx context.Context, raw json.RawMessage) (pipeline.Result, error) {
		res, err := p.HandleRaw(ctx, raw)
		if err != nil {
			return res, err
		}
		if res.Outcome == pipeline.OutcomeError {
			body := string(raw)
			if len(body) > maxLoggedEvent {
				body = body[:maxLoggedEvent] + "…(truncated)"
			}
			requestLog(ctx, log).Error("event rejected, not retried", zap.String("event_id", res.ID),
				zap.String("reason", res.Error), zap.String("event", body))
		}
		return res, nil
	}
}

// Reconcile runs one reconciliation pass per scheduled invocation.
func Reconcile(r *reconcile.Reconciler, log *zap.Logger) func(context.Context) (reconcile.Report, error) {
	return func(ctx context.Context) (reconcile.Report, error) {
		rep, err := r.Run(ctx)
		if err != nil {
			return rep, err
		}
		requestLog(ctx, log).Info("reconciled", zap.Int("checked", rep.Checked), zap.Int("resolved", rep.Resolved),
			zap.Int("escalated", rep.Escalated), zap.Int("found", rep.Found), zap.Int("errors", rep.Errors))
		return rep, nil
	}
}

// FunctionURL serves an http.Handler behind a Lambda Function URL, so the Slack function and
// `medic serve` run the very same handler.
// https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads
func FunctionURL(h http.Handler) func(context.Context, events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	return func(ctx context.Context, req events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
		r, err := toHTTP(ctx, req)
		if err != nil {
			return events.LambdaFunctionURLResponse{StatusCode: http.StatusBadRequest, Body: err.Error()}, nil
		}
		rec := &response{header: http.Header{}}
		h.ServeHTTP(rec, r)
		resp := events.LambdaFunctionURLResponse{StatusCode: rec.code, Headers: map[string]string{}}
		if resp.StatusCode == 0 {
			resp.StatusCode = http.StatusOK
		}
		for k, v := range rec.header {
			resp.Headers[k] = strings.Join(v, ",")
		}
		resp.Body = rec.body.String()
		return resp, nil
	}
}

// response collects what a handler writes, as net/http's server would send it: the first status
// wins, and a body written without a Content-Type gets the sniffed one. It stands in for
// net/http/httptest's recorder, which would link a test package (and its init) into the function.
type response struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *response) Write(b []byte) (int, error) {
	if w.code == 0 {
		if _, typed := w.header["Content-Type"]; !typed && w.header.Get("Transfer-Encoding") == "" {
			w.header.Set("Content-Type", http.DetectContentType(b))
		}
		w.WriteHeader(http.StatusOK)
	}
	return w.body.Write(b)
}

func toHTTP(ctx context.Context, req events.LambdaFunctionURLRequest) (*http.Request, error) {
	var body io.Reader = strings.NewReader(req.Body)
	if req.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return nil, fmt.Errorf("decode base64 body: %w", err)
		}
		body = bytes.NewReader(b)
	}
	path := req.RawPath
	if path == "" {
		path = "/"
	}
	if req.RawQueryString != "" {
		path += "?" + req.RawQueryString
	}
	method := req.RequestContext.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	r, err := http.NewRequestWithContext(ctx, method, path, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, v := range req.Headers {
		r.Header.Set(k, v)
	}
	for _, c := range req.Cookies {
		r.Header.Add("Cookie", c)
	}
	r.RemoteAddr = req.RequestContext.HTTP.SourceIP
	r.Host = req.RequestContext.DomainName
	return r, nil
}

// JobEnvelope marks a deferred Slack job among the Slack function's invocations (invoke.Self
// sends it).
type JobEnvelope struct {
	Job *chatops.Job `json:"medic_job"`
}

// Slack serves the Slack function's two kinds of invocation: Function URL requests from Slack,
// and the deferred jobs it sends itself.
func Slack(h http.Handler, run func(context.Context, chatops.Job) error) func(context.Context, json.RawMessage) (any, error) {
	serve := FunctionURL(h)
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var env JobEnvelope
		if json.Unmarshal(raw, &env) == nil && env.Job != nil {
			return nil, run(ctx, *env.Job)
		}
		var req events.LambdaFunctionURLRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, fmt.Errorf("not a Function URL request: %w", err)
		}
		return serve(ctx, req)
	}
}

// Remediate is the remediation function's handler.
func Remediate(r *remediate.Remediator) func(context.Context, remediate.Request) (remediate.Outcome, error) {
	return r.Handle
}
