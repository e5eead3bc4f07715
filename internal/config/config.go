// Package config reads ecs-medic's configuration (SPEC §6) from the environment. Every Lambda and
// `medic serve` load it the same way, through a getenv function so tests need no real environment.
package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Secret is a credential. It prints as <redacted> so it cannot leak into a log line or message.
type Secret string

// String implements fmt.Stringer.
func (Secret) String() string { return "<redacted>" }

// GoString implements fmt.GoStringer, for %#v.
func (Secret) GoString() string { return "<redacted>" }

// MarshalText keeps secrets out of JSON and zap output.
func (Secret) MarshalText() ([]byte, error) { return []byte("<redacted>"), nil }

// Reveal returns the secret's value, for the one place that must send it.
func (s Secret) Reveal() string { return string(s) }

// SecretRef is a secret given directly or by reference: `NAME`, `NAME_ARN` (Secrets Manager) or
// `NAME_SSM` (SSM Parameter Store), read at start.
type SecretRef struct {
	Value Secret
	ARN   string
	SSM   string
}

// Set reports whether the secret was configured in any form.
func (r SecretRef) Set() bool { return r.Value != "" || r.ARN != "" || r.SSM != "" }

// AutoFix is the global cap on runbook modes.
type AutoFix string

// AutoFix modes (SPEC §4).
const (
	AutoFixOff     AutoFix = "off"
	AutoFixSuggest AutoFix = "suggest"
	AutoFixAuto    AutoFix = "auto"
)

// Config is the whole configuration.
type Config struct {
	Table               string
	PagerDutyRoutingKey SecretRef
	PagerDutyEventsURL  string
	SlackBotToken       SecretRef
	SlackChannel        string
	SlackSigningSecret  SecretRef
	SlackAPIURL         string
	SlackAllowedUsers   []string
	SlackAllowedGroups  []string
	AutoFix             AutoFix
	DryRun              bool
	Runbooks            string
	LogLevel            string
	DB                  string
	Addr                string
	// MemberRoleARN is the role assumed for another account's services, "{account}" in place of
	// its id; "" means other accounts' services are never read or changed.
	MemberRoleARN string
	// Accounts are the accounts whose events are accepted (empty: any).
	Accounts []string
	// HomeAccount is the account ecs-medic runs in ("" : asked of STS).
	HomeAccount string
	// Routes is the routes file ("" : every incident to the channel and key above).
	Routes string
}

// Load reads the configuration through getenv (os.Getenv in production).
func Load(getenv func(string) string) (Config, error) {
	c := Config{
		Table:               getenv("MEDIC_TABLE"),
		PagerDutyRoutingKey: secretRef(getenv, "MEDIC_PAGERDUTY_ROUTING_KEY"),
		PagerDutyEventsURL:  getenv("MEDIC_PAGERDUTY_EVENTS_URL"),
		SlackBotToken:       secretRef(getenv, "MEDIC_SLACK_BOT_TOKEN"),
		SlackChannel:        getenv("MEDIC_SLACK_CHANNEL"),
		SlackSigningSecret:  secretRef(getenv, "MEDIC_SLACK_SIGNING_SECRET"),
		SlackAPIURL:         getenv("MEDIC_SLACK_API_URL"),
		SlackAllowedUsers:   list(getenv("MEDIC_SLACK_ALLOWED_USERS")),
		SlackAllowedGroups:  list(getenv("MEDIC_SLACK_ALLOWED_GROUPS")),
		AutoFix:             AutoFix(strings.ToLower(strings.TrimSpace(getenv("MEDIC_AUTOFIX")))),
		Runbooks:            getenv("MEDIC_RUNBOOKS"),
		LogLevel:            getenv("MEDIC_LOG_LEVEL"),
		DB:                  getenv("MEDIC_DB"),
		Addr:                getenv("MEDIC_ADDR"),
		MemberRoleARN:       strings.TrimSpace(getenv("MEDIC_MEMBER_ROLE_ARN")),
		Accounts:            list(getenv("MEDIC_ACCOUNTS")),
		HomeAccount:         strings.TrimSpace(getenv("MEDIC_HOME_ACCOUNT")),
		Routes:              getenv("MEDIC_ROUTES"),
	}
	var errs []error
	switch c.AutoFix {
	case "":
		c.AutoFix = AutoFixSuggest
	case AutoFixOff, AutoFixSuggest, AutoFixAuto:
	default:
		errs = append(errs, fmt.Errorf("MEDIC_AUTOFIX %q: want off, suggest or auto", c.AutoFix))
	}
	if v := getenv("MEDIC_DRY_RUN"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("MEDIC_DRY_RUN %q: want true or false", v))
		}
		c.DryRun = b
	}
	switch strings.ToLower(c.LogLevel) {
	case "", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("MEDIC_LOG_LEVEL %q: want debug, info, warn or error", c.LogLevel))
	}
	for _, a := range append(slices.Clone(c.Accounts), c.HomeAccount) {
		if a != "" && !accountRE.MatchString(a) {
			errs = append(errs, fmt.Errorf("account id %q (MEDIC_ACCOUNTS / MEDIC_HOME_ACCOUNT): want 12 digits", a))
		}
	}
	if r := c.MemberRoleARN; r != "" && (!strings.HasPrefix(r, "arn:") || !strings.Contains(r, "{account}")) {
		errs = append(errs, fmt.Errorf("MEDIC_MEMBER_ROLE_ARN %q: want a role ARN with {account} in place of the account id, e.g. arn:aws:iam::{account}:role/ecs-medic-member", r))
	}
	if c.DB == "" {
		c.DB = "medic.db"
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	return c, errors.Join(errs...)
}

var accountRE = regexp.MustCompile(`^\d{12}$`)

func secretRef(getenv func(string) string, name string) SecretRef {
	return SecretRef{Value: Secret(getenv(name)), ARN: getenv(name + "_ARN"), SSM: getenv(name + "_SSM")}
}

func list(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}
