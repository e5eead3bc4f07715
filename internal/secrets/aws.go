package secrets

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// AWS reads secrets from Secrets Manager (GetSecretValue) and SSM Parameter Store (GetParameter)
// with the SDK's configuration, credentials, SigV4 signer, HTTP client and standard retryer,
// calling the two operations on their JSON 1.1 wire protocol itself.
//
// Why not the SDK's service clients: Go initialises every linked package at process start, and
// the SDK builds each linked service's whole schema then — SSM's alone is 1.4 MB and 7,900
// allocations, Secrets Manager's 0.2 MB — at every Lambda cold start, for two operations called
// once, at the first invocation. Endpoints are found as the SDK finds them: a service-specific
// endpoint (AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL_SECRETS_MANAGER, the shared config's services
// section), else the configuration's BaseEndpoint (AWS_ENDPOINT_URL), else the regional endpoint
// (FIPS and dual-stack when configured).
type AWS struct {
	cfg    aws.Config
	client aws.HTTPClient
	signer *v4.Signer
	now    func() time.Time
	// backoff replaces the standard retryer's delays (tests); nil: the retryer's.
	backoff func(attempt int, err error) (time.Duration, error)
}

// NewAWS returns the reader over cfg.
func NewAWS(cfg aws.Config) *AWS {
	a := &AWS{cfg: cfg, client: cfg.HTTPClient, signer: v4.NewSigner(), now: time.Now}
	if a.client == nil {
		a.client = awshttp.NewBuildableClient()
	}
	return a
}

// service is one of the two APIs called.
type service struct {
	sdkID, envID, prefix, signingName, targetPrefix string
}

var (
	secretsManager = service{sdkID: "Secrets Manager", envID: "SECRETS_MANAGER", prefix: "secretsmanager", signingName: "secretsmanager", targetPrefix: "secretsmanager."}
	parameterStore = service{sdkID: "SSM", envID: "SSM", prefix: "ssm", signingName: "ssm", targetPrefix: "AmazonSSM."}
)

// GetSecretValue returns the secret's string value ("" when it has none).
func (a *AWS) GetSecretValue(ctx context.Context, secretID string) (string, error) {
	var out struct{ SecretString *string }
	err := a.call(ctx, secretsManager, "GetSecretValue", map[string]any{"SecretId": secretID}, &out)
	return aws.ToString(out.SecretString), err
}

// GetParameter returns the parameter's value, decrypted.
func (a *AWS) GetParameter(ctx context.Context, name string) (string, error) {
	var out struct{ Parameter struct{ Value *string } }
	err := a.call(ctx, parameterStore, "GetParameter", map[string]any{"Name": name, "WithDecryption": true}, &out)
	return aws.ToString(out.Parameter.Value), err
}

// call makes one operation, retried as the SDK's standard retryer says (throttling, 5xx, a
// connection lost), at most AWS_MAX_ATTEMPTS (cfg.RetryMaxAttempts) times.
func (a *AWS) call(ctx context.Context, svc service, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	endpoint, err := a.endpoint(ctx, svc)
	if err != nil {
		return fmt.Errorf("%s %s: %w", svc.sdkID, op, err)
	}
	r := retry.NewStandard(func(o *retry.StandardOptions) {
		if a.cfg.RetryMaxAttempts > 0 {
			o.MaxAttempts = a.cfg.RetryMaxAttempts
		}
	})
	for attempt := 1; ; attempt++ {
		err = a.once(ctx, svc, op, endpoint, body, out)
		if err == nil || attempt >= r.MaxAttempts() || !r.IsErrorRetryable(err) || ctx.Err() != nil {
			break
		}
		delay := r.RetryDelay
		if a.backoff != nil {
			delay = a.backoff
		}
		d, derr := delay(attempt, err)
		if derr != nil {
			break
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("operation error %s: %s: %w", svc.sdkID, op, ctx.Err())
		case <-t.C:
		}
	}
	if err != nil {
		return fmt.Errorf("operation error %s: %s: %w", svc.sdkID, op, err)
	}
	return nil
}

func (a *AWS) once(ctx context.Context, svc service, op, endpoint string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(endpoint, "/")+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", svc.targetPrefix+op)
	if a.cfg.Credentials == nil {
		return errors.New("no AWS credentials")
	}
	creds, err := a.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("retrieve AWS credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := a.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), svc.signingName, a.cfg.Region, a.now()); err != nil {
		return fmt.Errorf("sign the request: %w", err)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return apiError(resp, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	return nil
}

// APIError is an error AWS answered, as the SDK's clients report it (smithy.APIError): its code
// and message, and the HTTP status the standard retryer judges by.
type APIError struct {
	Code, Message string
	Status        int
}

func (e *APIError) Error() string {
	return fmt.Sprintf("https response error StatusCode: %d, api error %s: %s", e.Status, e.Code, e.Message)
}

// ErrorCode is AWS's error code (ResourceNotFoundException, ThrottlingException, ...).
func (e *APIError) ErrorCode() string { return e.Code }

// ErrorMessage is AWS's message.
func (e *APIError) ErrorMessage() string { return e.Message }

// ErrorFault says whether the caller or the server is at fault.
func (e *APIError) ErrorFault() smithy.ErrorFault {
	if e.Status >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

// HTTPStatusCode lets the standard retryer retry a 5xx or 429.
func (e *APIError) HTTPStatusCode() int { return e.Status }

// apiError reads an AWS JSON 1.1 error: {"__type": "[namespace#]Code", "message": "..."}, the
// code also in the X-Amzn-ErrorType header.
func apiError(resp *http.Response, raw []byte) error {
	var body struct {
		Type     string `json:"__type"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	_ = json.Unmarshal(raw, &body)
	code := body.Type
	if h := resp.Header.Get("X-Amzn-ErrorType"); h != "" {
		code = h
	}
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	if code == "" {
		code = http.StatusText(resp.StatusCode)
	}
	msg := body.Message
	if msg == "" {
		msg = body.MessageU
	}
	return &APIError{Code: code, Message: msg, Status: resp.StatusCode}
}

// The SDK's configuration sources (config.EnvConfig, config.SharedConfig) answer these.
type (
	serviceEndpoints interface {
		GetServiceBaseEndpoint(ctx context.Context, sdkID string) (string, bool, error)
	}
	ignoreEndpoints interface {
		GetIgnoreConfiguredEndpoints(ctx context.Context) (bool, bool, error)
	}
	fipsSource interface {
		GetUseFIPSEndpoint(ctx context.Context) (aws.FIPSEndpointState, bool, error)
	}
	dualStackSource interface {
		GetUseDualStackEndpoint(ctx context.Context) (aws.DualStackEndpointState, bool, error)
	}
)

// endpoint finds the service's endpoint in the SDK's order: BaseEndpoint (AWS_ENDPOINT_URL),
// overridden by a service-specific one unless only AWS_ENDPOINT_URL is set in the environment
// (or configured endpoints are switched off), else the region's.
func (a *AWS) endpoint(ctx context.Context, svc service) (string, error) {
	base := aws.ToString(a.cfg.BaseEndpoint)
	_, global := os.LookupEnv("AWS_ENDPOINT_URL")
	_, specific := os.LookupEnv("AWS_ENDPOINT_URL_" + svc.envID)
	if !global || specific {
		ignore := false
		for _, src := range a.cfg.ConfigSources {
			if p, ok := src.(ignoreEndpoints); ok {
				if v, found, err := p.GetIgnoreConfiguredEndpoints(ctx); err == nil && found {
					ignore = v
					break
				}
			}
		}
		for _, src := range a.cfg.ConfigSources {
			p, ok := src.(serviceEndpoints)
			if ignore || !ok {
				continue
			}
			v, found, err := p.GetServiceBaseEndpoint(ctx, svc.sdkID)
			if err != nil {
				break
			}
			if found {
				base = v
				break
			}
		}
	}
	if base != "" {
		return base, nil
	}
	if a.cfg.Region == "" {
		return "", errors.New("no AWS region configured (AWS_REGION)")
	}
	var fips, dual bool
	for _, src := range a.cfg.ConfigSources {
		if p, ok := src.(fipsSource); ok && !fips {
			v, found, _ := p.GetUseFIPSEndpoint(ctx)
			fips = found && v == aws.FIPSEndpointStateEnabled
		}
		if p, ok := src.(dualStackSource); ok && !dual {
			v, found, _ := p.GetUseDualStackEndpoint(ctx)
			dual = found && v == aws.DualStackEndpointStateEnabled
		}
	}
	host := svc.prefix
	if fips {
		host += "-fips"
	}
	return "https://" + host + "." + a.cfg.Region + "." + dnsSuffix(a.cfg.Region, dual), nil
}

// dnsSuffix is the domain of the region's partition (the SDK's partitions.json).
func dnsSuffix(region string, dualStack bool) string {
	type partition struct{ prefix, suffix, dual string }
	for _, p := range []partition{
		{"cn-", "amazonaws.com.cn", "api.amazonwebservices.com.cn"},
		{"us-isob-", "sc2s.sgov.gov", "api.aws.scloud"},
		{"us-isof-", "csp.hci.ic.gov", "api.aws.hci.ic.gov"},
		{"us-iso-", "c2s.ic.gov", "api.aws.ic.gov"},
		{"eu-isoe-", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk"},
		{"eusc-", "amazonaws.eu", "api.amazonwebservices.eu"},
	} {
		if strings.HasPrefix(region, p.prefix) {
			if dualStack {
				return p.dual
			}
			return p.suffix
		}
	}
	if dualStack {
		return "api.aws"
	}
	return "amazonaws.com"
}
