package pagerduty

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/PagerDuty/go-pagerduty"
)

// TransportError is a request to PagerDuty that got no answer: refused, reset, dropped, timed out.
// It keeps the network's own error (go-pagerduty formats it into its message with %v, which loses
// its type), so a caller can match it with errors.As and errors.Is.
type TransportError struct{ Err error }

func (e *TransportError) Error() string { return "no answer from PagerDuty: " + e.Err.Error() }

// Unwrap returns the network error.
func (e *TransportError) Unwrap() error { return e.Err }

// attempt is what the transport saw of one request: the network error, if it got no answer.
type attempt struct{ err error }

type attemptKey struct{}

// transport is the HTTP client of both go-pagerduty clients: it records a request's network error
// on the attempt its context carries (see call).
type transport struct{ client *http.Client }

func newTransport() transport { return transport{&http.Client{Timeout: 10 * time.Second}} }

// Do implements pagerduty.HTTPClient.
func (t transport) Do(req *http.Request) (*http.Response, error) {
	resp, err := t.client.Do(req)
	if a, ok := req.Context().Value(attemptKey{}).(*attempt); ok && err != nil {
		a.err = err
	}
	return resp, err
}

// call runs one go-pagerduty request and returns its error with the type go-pagerduty lost: a
// request that got no answer fails with a *TransportError.
func call(ctx context.Context, do func(context.Context) error) error {
	a := &attempt{}
	err := do(context.WithValue(ctx, attemptKey{}, a))
	if err != nil && a.err != nil {
		return &TransportError{Err: a.err}
	}
	return err
}

// statusOf is the HTTP status PagerDuty (or a proxy in front of it) answered with, when the
// request got an answer that was not a success.
func statusOf(err error) (int, bool) {
	var apiErr pagerduty.APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode, true
	}
	var evErr pagerduty.EventsAPIV2Error
	if errors.As(err, &evErr) {
		return evErr.StatusCode, true
	}
	return 0, false
}

// retryable decides from the status code and the error's type, as the AWS SDK's retryer does:
// 429 (rate limited), 408 and 5xx are worth another attempt, any other answer (400: an invalid
// event) is not; a request that got no answer is, unless the caller itself gave up (ctx done).
// Both APIs document the same rule.
// https://developer.pagerduty.com/docs/events-api-v2/overview/#response-codes--retry-logic
// https://developer.pagerduty.com/docs/rest-api-v2/rate-limiting/
func retryable(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	if status, ok := statusOf(err); ok {
		return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
	}
	var te *TransportError
	return errors.As(err, &te)
}
