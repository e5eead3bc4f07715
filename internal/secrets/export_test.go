package secrets

import (
	"context"
	"time"
)

// Endpoint is the endpoint the reader calls for SSM (ssm) or Secrets Manager.
func Endpoint(a *AWS, ssm bool) (string, error) {
	if ssm {
		return a.endpoint(context.Background(), parameterStore)
	}
	return a.endpoint(context.Background(), secretsManager)
}

// WithoutBackoff retries at once and signs at the time now gives, so tests wait for nothing.
func WithoutBackoff(a *AWS, now func() time.Time) *AWS {
	a.backoff = func(int, error) (time.Duration, error) { return 0, nil }
	a.now = now
	return a
}
