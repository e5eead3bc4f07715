package secrets_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"

	"github.com/ecs-medic/ecs-medic/internal/secrets"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
)

var signedAt = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// verifying is an AWS endpoint that checks each request's SigV4 signature as AWS does (recomputed
// over the request received, with the fakes' secret key) before answering with answer.
func verifying(t *testing.T, answer func(w http.ResponseWriter, target string, body []byte)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		auth := r.Header.Get("Authorization")
		// Credential=AKID/20260304/us-east-1/ssm/aws4_request
		_, scope, _ := strings.Cut(auth, "Credential=")
		parts := strings.Split(strings.SplitN(scope, ",", 2)[0], "/")
		if len(parts) != 5 || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
			http.Error(w, "unsigned or not JSON 1.1: "+auth, http.StatusForbidden)
			return
		}
		check, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
		for _, h := range []string{"Content-Type", "X-Amz-Target", "X-Amz-Date"} {
			check.Header.Set(h, r.Header.Get(h))
		}
		sum := sha256.Sum256(body)
		at, _ := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
		creds, _ := fakes.AWSConfig("").Credentials.Retrieve(context.Background())
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, check, hex.EncodeToString(sum[:]), parts[3], parts[2], at); err != nil {
			t.Error(err)
		}
		if got, want := auth, check.Header.Get("Authorization"); got != want {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `{"__type":"InvalidSignatureException","message":"signature does not match: %s"}`, parts[3])
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		answer(w, r.Header.Get("X-Amz-Target"), body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func reader(url string, attempts int) *secrets.AWS {
	cfg := fakes.AWSConfig(url)
	cfg.RetryMaxAttempts = attempts
	return secrets.WithoutBackoff(secrets.NewAWS(cfg), func() time.Time { return signedAt })
}

func TestAWSReadsBothServicesSigned(t *testing.T) {
	srv := verifying(t, func(w http.ResponseWriter, target string, body []byte) {
		switch {
		case target == "secretsmanager.GetSecretValue" && string(body) == `{"SecretId":"arn:aws:secretsmanager:us-east-1:1:secret:pd"}`:
			fmt.Fprint(w, `{"ARN":"arn:aws:secretsmanager:us-east-1:1:secret:pd","Name":"pd","SecretString":"R0UTINGKEY","VersionId":"v1"}`)
		case target == "AmazonSSM.GetParameter" && string(body) == `{"Name":"/medic/signing","WithDecryption":true}`:
			fmt.Fprint(w, `{"Parameter":{"ARN":"arn:aws:ssm:us-east-1:1:parameter/medic/signing","Name":"/medic/signing","Type":"SecureString","Value":"S1GNING","Version":3}}`)
		default:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"__type":"UnknownOperationException","message":"%s %s"}`, target, body)
		}
	})
	a := reader(srv.URL, 1)
	if v, err := a.GetSecretValue(context.Background(), "arn:aws:secretsmanager:us-east-1:1:secret:pd"); err != nil || v != "R0UTINGKEY" {
		t.Fatalf("secret %q, %v", v, err)
	}
	if v, err := a.GetParameter(context.Background(), "/medic/signing"); err != nil || v != "S1GNING" {
		t.Fatalf("parameter %q, %v", v, err)
	}
}

// AWS's errors read as the SDK's do: the code and message (notify.Reason shows them), the
// operation named.
func TestAWSErrorsCarryCodeAndMessage(t *testing.T) {
	tests := []struct {
		name, header, body string
		status             int
		code, msg          string
	}{
		{"json type", "", `{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`, 400,
			"ResourceNotFoundException", "Secrets Manager can't find the specified secret."},
		{"namespaced type, capital Message", "", `{"__type":"com.amazonaws.ssm#ParameterNotFound","Message":"no such parameter"}`, 400,
			"ParameterNotFound", "no such parameter"},
		{"header wins", "AccessDeniedException:http://internal", `{"message":"not allowed"}`, 400, "AccessDeniedException", "not allowed"},
		{"no body", "", ``, 503, "Service Unavailable", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := verifying(t, func(w http.ResponseWriter, _ string, _ []byte) {
				if tt.header != "" {
					w.Header().Set("X-Amzn-ErrorType", tt.header)
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			_, err := reader(srv.URL, 1).GetParameter(context.Background(), "/x")
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != tt.code || api.ErrorMessage() != tt.msg {
				t.Fatalf("%v", err)
			}
			if !strings.Contains(err.Error(), "SSM: GetParameter") {
				t.Fatalf("the operation is not named: %v", err)
			}
		})
	}
}

// Throttling and 5xx are retried up to AWS_MAX_ATTEMPTS; a client error is not.
func TestAWSRetriesAsTheStandardRetryer(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		code     string
		attempts int
		wantOK   bool
		wantSeen int
	}{
		{"throttled then answered", 400, "ThrottlingException", 3, true, 3},
		{"5xx then answered", 500, "InternalServerError", 3, true, 3},
		{"5xx past the attempts", 500, "InternalServerError", 2, false, 2},
		{"not found is final", 400, "ResourceNotFoundException", 3, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			seen := 0
			srv := verifying(t, func(w http.ResponseWriter, _ string, _ []byte) {
				mu.Lock()
				seen++
				n := seen
				mu.Unlock()
				if n < 3 {
					w.WriteHeader(tt.status)
					fmt.Fprintf(w, `{"__type":%q,"message":"try again"}`, tt.code)
					return
				}
				fmt.Fprint(w, `{"SecretString":"ok"}`)
			})
			v, err := reader(srv.URL, tt.attempts).GetSecretValue(context.Background(), "s")
			if (err == nil) != tt.wantOK || (tt.wantOK && v != "ok") || seen != tt.wantSeen {
				t.Fatalf("value %q, err %v, %d calls", v, err, seen)
			}
		})
	}
}

// The endpoint is found as the SDK's clients find it, from the standard configuration.
func TestAWSEndpoints(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		ssm, sm string
	}{
		{"regional", map[string]string{"AWS_REGION": "eu-west-1"},
			"https://ssm.eu-west-1.amazonaws.com", "https://secretsmanager.eu-west-1.amazonaws.com"},
		{"china", map[string]string{"AWS_REGION": "cn-north-1"},
			"https://ssm.cn-north-1.amazonaws.com.cn", "https://secretsmanager.cn-north-1.amazonaws.com.cn"},
		{"fips", map[string]string{"AWS_REGION": "us-gov-west-1", "AWS_USE_FIPS_ENDPOINT": "true"},
			"https://ssm-fips.us-gov-west-1.amazonaws.com", "https://secretsmanager-fips.us-gov-west-1.amazonaws.com"},
		{"dual-stack", map[string]string{"AWS_REGION": "us-east-1", "AWS_USE_DUALSTACK_ENDPOINT": "true"},
			"https://ssm.us-east-1.api.aws", "https://secretsmanager.us-east-1.api.aws"},
		{"global override", map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566"},
			"http://127.0.0.1:4566", "http://127.0.0.1:4566"},
		{"per service", map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://all:1",
			"AWS_ENDPOINT_URL_SSM": "http://ssm:2", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://sm:3"},
			"http://ssm:2", "http://sm:3"},
		{"configured endpoints ignored", map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_SSM": "http://ssm:2",
			"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
			"https://ssm.us-east-1.amazonaws.com", "https://secretsmanager.us-east-1.amazonaws.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSM", "AWS_ENDPOINT_URL_SECRETS_MANAGER",
				"AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
				t.Setenv(k, "") // restored after the test; unset for it, as LookupEnv tells the two apart
				if err := os.Unsetenv(k); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithCredentialsProvider(aws.AnonymousCredentials{}))
			if err != nil {
				t.Fatal(err)
			}
			a := secrets.NewAWS(cfg)
			if got, err := secrets.Endpoint(a, true); err != nil || got != tt.ssm {
				t.Errorf("SSM: %q, %v; want %q", got, err, tt.ssm)
			}
			if got, err := secrets.Endpoint(a, false); err != nil || got != tt.sm {
				t.Errorf("Secrets Manager: %q, %v; want %q", got, err, tt.sm)
			}
		})
	}
}
