package fakes

import (
	"encoding/json"
	"net/http"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// AccessKey is the access key id AWSConfig signs with.
const AccessKey = "AKID"

// AWSConfig is an SDK config for a fake: region us-east-1, static credentials (AccessKey), one
// attempt per call (no retries, so a test sees each answer), and every client built from it sent to
// endpoint (empty: set per client with BaseEndpoint).
func AWSConfig(endpoint string) aws.Config {
	return AWSConfigAs(AccessKey, endpoint)
}

// AWSConfigAs is AWSConfig signing with another access key id: the fakes tell accounts apart by
// the key (fakests maps keys to accounts).
func AWSConfigAs(accessKey, endpoint string) aws.Config {
	cfg := aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, "SECRET", "")}
	if endpoint != "" {
		cfg.BaseEndpoint = aws.String(endpoint)
	}
	return cfg
}

var credentialRE = regexp.MustCompile(`Credential=([A-Z0-9]+)/`)

// SigningKey is the access key id that signed a request (from its SigV4 Authorization header):
// which credentials, and so which account, made the call.
func SigningKey(r *http.Request) string {
	if m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		return m[1]
	}
	return ""
}

// WriteAWSError answers as an AWS JSON 1.1 service fails: the status, X-Amzn-ErrorType and a
// {"__type", "message"} body, which the SDK turns into its typed error (ThrottlingException,
// ServiceNotFoundException ...).
func WriteAWSError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

// AWSErrorCode is the usual AWS error code for an injected fault's status, when it names none.
func AWSErrorCode(f Fault) string {
	switch {
	case f.Code != "":
		return f.Code
	case f.Status == http.StatusTooManyRequests:
		return "ThrottlingException"
	case f.Status == http.StatusServiceUnavailable:
		return "ServiceUnavailableException"
	case f.Status >= 500:
		return "ServerException"
	default:
		return "ValidationException"
	}
}
