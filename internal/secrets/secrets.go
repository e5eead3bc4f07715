// Package secrets fills in the configuration's secrets given by reference (SPEC §6):
// `NAME_ARN` from AWS Secrets Manager, `NAME_SSM` from SSM Parameter Store (decrypted). It runs
// once at start (a Lambda function's first invocation); the values never reach a log line
// (config.Secret prints as <redacted>). AWS reads them.
package secrets

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ecs-medic/ecs-medic/internal/config"
)

// SecretsManager reads a secret's string value from AWS Secrets Manager (AWS).
type SecretsManager interface {
	GetSecretValue(ctx context.Context, secretID string) (string, error)
}

// Parameters reads an SSM parameter's value, decrypted (AWS).
type Parameters interface {
	GetParameter(ctx context.Context, name string) (string, error)
}

// Needed reports whether any secret is given by reference.
func Needed(c *config.Config) bool {
	for _, r := range refs(c) {
		if r.ref.Value == "" && (r.ref.ARN != "" || r.ref.SSM != "") {
			return true
		}
	}
	return false
}

type named struct {
	name string
	ref  *config.SecretRef
}

func refs(c *config.Config) []named {
	return []named{
		{"MEDIC_PAGERDUTY_ROUTING_KEY", &c.PagerDutyRoutingKey},
		{"MEDIC_SLACK_BOT_TOKEN", &c.SlackBotToken},
		{"MEDIC_SLACK_SIGNING_SECRET", &c.SlackSigningSecret},
		{"MEDIC_API_TOKEN", &c.APIToken},
		{"MEDIC_PAGERDUTY_API_TOKEN", &c.PagerDutyAPIToken},
	}
}

// Resolve reads every secret given by reference into its Value. A value given directly wins.
func Resolve(ctx context.Context, c *config.Config, sm SecretsManager, ps Parameters) error {
	for _, r := range refs(c) {
		if err := ResolveRef(ctx, r.name, r.ref, sm, ps); err != nil {
			return err
		}
	}
	return nil
}

// ResolveRef reads one secret given by reference (a route's PagerDuty key) into its Value; name
// prefixes the error.
func ResolveRef(ctx context.Context, name string, ref *config.SecretRef, sm SecretsManager, ps Parameters) error {
	switch {
	case ref.Value != "":
	case ref.ARN != "":
		v, err := sm.GetSecretValue(ctx, ref.ARN)
		if err != nil {
			return fmt.Errorf("%s_ARN: read %s: %w", name, ref.ARN, err)
		}
		if v == "" {
			return fmt.Errorf("%s_ARN: secret %s has no string value yet: put one in", name, ref.ARN)
		}
		ref.Value = config.Secret(unwrap(v))
	case ref.SSM != "":
		v, err := ps.GetParameter(ctx, ref.SSM)
		if err != nil {
			return fmt.Errorf("%s_SSM: read %s: %w", name, ref.SSM, err)
		}
		ref.Value = config.Secret(v)
	}
	return nil
}

// unwrap accepts a secret stored as plain text or as a one-key JSON object ({"token": "..."}),
// the console's default shape.
func unwrap(v string) string {
	if !strings.HasPrefix(strings.TrimSpace(v), "{") {
		return v
	}
	var m map[string]string
	if json.Unmarshal([]byte(v), &m) == nil && len(m) == 1 {
		for _, x := range m {
			return x
		}
	}
	return v
}
