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
	"sync"

	"github.com/ecs-medic/ecs-medic/internal/runbook"
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
	AutoFix             runbook.Mode // the cap on every runbook's mode (MEDIC_AUTOFIX)
	DryRun              bool
	Runbooks            string
	LogLevel            string
	DB                  string
	Addr                string
	// APIToken guards `medic serve`'s API (MEDIC_API_TOKEN): every endpoint but /healthz and the
	// signed Slack ones then needs "Authorization: Bearer <token>".
	APIToken SecretRef
	// MaxTasks is the absolute cap on a service's desired count that scale-out and `/medic scale`
	// never pass (MEDIC_MAX_TASKS), whatever a runbook or a person asks.
	MaxTasks int
	// PagerDutyAPIToken enables escalation through PagerDuty's REST API
	// (MEDIC_PAGERDUTY_API_TOKEN); PagerDutyFrom is the From email account-level tokens need
	// (MEDIC_PAGERDUTY_FROM); PagerDutyAPIURL overrides the REST endpoint (MEDIC_PAGERDUTY_API_URL).
	PagerDutyAPIToken SecretRef
	PagerDutyFrom     string
	PagerDutyAPIURL   string
	// MemberRoleARN is the role assumed for another account's services, "{account}" in place of
	// its id; "" means other accounts' services are never read or changed.
	MemberRoleARN string
	// Accounts are the accounts whose events are accepted (empty: any).
	Accounts []string
	// HomeAccount is the account ecs-medic runs in ("" : asked of STS).
	HomeAccount string
	// Routes is the routes file ("" : every incident to the channel and key above).
	Routes string
	// DigestSchedule ("mon 09:00", UTC) posts the weekly report to DigestChannel (default
	// SlackChannel); "" turns the digest off.
	DigestSchedule string
	DigestChannel  string
	// Prices is the operator's price table for fix cost estimates ("" = the built-in one).
	Prices string
}

// DefaultMaxTasks is MEDIC_MAX_TASKS when unset.
const DefaultMaxTasks = 100

// PagerDutyKeyLength is the length of an Events API v2 integration key.
const PagerDutyKeyLength = 32

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
		AutoFix:             runbook.Mode(strings.ToLower(strings.TrimSpace(getenv("MEDIC_AUTOFIX")))),
		Runbooks:            getenv("MEDIC_RUNBOOKS"),
		LogLevel:            getenv("MEDIC_LOG_LEVEL"),
		DB:                  getenv("MEDIC_DB"),
		Addr:                getenv("MEDIC_ADDR"),
		APIToken:            secretRef(getenv, "MEDIC_API_TOKEN"),
		PagerDutyAPIToken:   secretRef(getenv, "MEDIC_PAGERDUTY_API_TOKEN"),
		PagerDutyFrom:       strings.TrimSpace(getenv("MEDIC_PAGERDUTY_FROM")),
		PagerDutyAPIURL:     getenv("MEDIC_PAGERDUTY_API_URL"),
		MaxTasks:            DefaultMaxTasks,
		MemberRoleARN:       strings.TrimSpace(getenv("MEDIC_MEMBER_ROLE_ARN")),
		Accounts:            list(getenv("MEDIC_ACCOUNTS")),
		HomeAccount:         strings.TrimSpace(getenv("MEDIC_HOME_ACCOUNT")),
		Routes:              getenv("MEDIC_ROUTES"),
		DigestSchedule:      strings.TrimSpace(getenv("MEDIC_DIGEST_SCHEDULE")),
		DigestChannel:       getenv("MEDIC_DIGEST_CHANNEL"),
		Prices:              getenv("MEDIC_PRICES"),
	}
	var errs []error
	switch c.AutoFix {
	case "":
		c.AutoFix = runbook.Suggest
	case runbook.Off, runbook.Suggest, runbook.Auto:
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
	// Changing commands are authorized by Slack id only: a name here would silently never match.
	for _, u := range c.SlackAllowedUsers {
		if !slackID(u, "UW") {
			errs = append(errs, fmt.Errorf("MEDIC_SLACK_ALLOWED_USERS %q: give Slack user ids, such as U0123ABCD (profile → ⋮ → Copy member ID); names are not accepted, Slack has deprecated them", u))
		}
	}
	for _, g := range c.SlackAllowedGroups {
		if !slackID(g, "S") {
			errs = append(errs, fmt.Errorf("MEDIC_SLACK_ALLOWED_GROUPS %q: give user group ids, such as S0123ABCD", g))
		}
	}
	if v := strings.TrimSpace(getenv("MEDIC_MAX_TASKS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 5000 {
			// 5,000 is ECS's quota of tasks per service.
			errs = append(errs, fmt.Errorf("MEDIC_MAX_TASKS %q: want a whole number of tasks from 1 to 5000", v))
		} else {
			c.MaxTasks = n
		}
	}
	for _, a := range append(slices.Clone(c.Accounts), c.HomeAccount) {
		if a != "" && !accountRE().MatchString(a) {
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

// CheckSecrets refuses secrets that cannot work, once their values are known (after _ARN and _SSM
// references are read): a Slack signing secret of only whitespace would make every request's
// signature check meaningless, and a PagerDuty routing key that is not 32 characters surfaces
// only as pages PagerDuty drops.
func (c Config) CheckSecrets() error {
	var errs []error
	if v := c.SlackSigningSecret.Value.Reveal(); v != "" && strings.TrimSpace(v) == "" {
		errs = append(errs, errors.New("MEDIC_SLACK_SIGNING_SECRET is only whitespace: copy the Signing Secret from your Slack app's Basic Information page"))
	}
	if v := c.PagerDutyRoutingKey.Value.Reveal(); v != "" && len(v) != PagerDutyKeyLength {
		errs = append(errs, fmt.Errorf("MEDIC_PAGERDUTY_ROUTING_KEY has %d characters: an Events API v2 integration key has %d (copy it from the service's Integrations tab)", len(v), PagerDutyKeyLength))
	}
	if v := c.APIToken.Value.Reveal(); v != "" && len(strings.TrimSpace(v)) < 16 {
		errs = append(errs, errors.New("MEDIC_API_TOKEN is shorter than 16 characters: use a long random one, e.g. `openssl rand -hex 32`"))
	}
	if v := c.PagerDutyAPIToken.Value.Reveal(); v != "" && strings.TrimSpace(v) == "" {
		errs = append(errs, errors.New("MEDIC_PAGERDUTY_API_TOKEN is only whitespace"))
	}
	return errors.Join(errs...)
}

// slackID reports whether s looks like a Slack id starting with one of prefixes: an upper-case
// letter, then upper-case letters and digits.
func slackID(s, prefixes string) bool {
	if len(s) < 2 || len(s) > 32 || !strings.ContainsRune(prefixes, rune(s[0])) {
		return false
	}
	for _, r := range s[1:] {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// Compiled at first use, not at package initialisation: every Lambda function links this package
// and would pay for it at each cold start, used or not.
var accountRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\d{12}$`) })

func secretRef(getenv func(string) string, name string) SecretRef {
	return SecretRef{Value: Secret(getenv(name)), ARN: getenv(name + "_ARN"), SSM: getenv(name + "_SSM")}
}

func list(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}
