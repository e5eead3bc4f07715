// Package accounts hands out the AWS clients that may read and change one account's services in
// one region (SPEC §2, §8). The event's account decides the credentials: the home account (the
// one ecs-medic runs in) uses the default credentials; any other account uses the member role
// (MEDIC_MEMBER_ROLE_ARN with {account} filled in), assumed through STS with the SDK's own
// assume-role provider and cached until shortly before the credentials expire.
//
// Invariant: a client set of one account is only ever signed with that account's credentials.
// When an account's role is not configured or cannot be assumed, For fails with an *AccessError;
// there is no fallback to the home credentials, so nothing of that account is read or changed.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	lru "github.com/hashicorp/golang-lru/v2"
)

// Clients are the clients of one account and region, signed with that account's credentials.
type Clients struct {
	Account string
	Region  string
	ECS     *ecs.Client
	// Config is the account's configuration (its credentials, the region). A client only some
	// entry points call (CloudWatch Logs, Application Auto Scaling) is built from it by the package that calls it, with
	// Client: a Lambda function that never calls it then never links its SDK package, whose
	// initialisation every cold start would pay.
	Config aws.Config

	mu   sync.Mutex
	more map[any]any
}

// Client returns the client of set c that build makes from c.Config, built on first use and kept
// with the set (so its life, and its credentials, are the set's). key tells the kinds of client
// apart: a type of the calling package's own.
func Client[T any](c *Clients, key any, build func(aws.Config) T) T {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.more[key]; ok {
		return v.(T)
	}
	v := build(c.Config)
	if c.more == nil {
		c.more = map[any]any{}
	}
	c.more[key] = v
	return v
}

// STS is the part of *sts.Client the provider calls.
type STS interface {
	stscreds.AssumeRoleAPIClient
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// ErrNoRole means another account's services were asked for and no member role is configured.
var ErrNoRole = errors.New("no member role configured (MEDIC_MEMBER_ROLE_ARN): other accounts' services are never read or changed")

// AccessError says why an account's services cannot be reached: no role, the role could not be
// assumed, or the home account could not be determined.
type AccessError struct {
	Account string
	Role    string // the role that was tried, "" when none
	Err     error
}

func (e *AccessError) Error() string {
	if e.Role != "" {
		return fmt.Sprintf("account %s: assume role %s: %v", e.Account, e.Role, e.Err)
	}
	return fmt.Sprintf("account %s: %v", e.Account, e.Err)
}

// Unwrap lets errors.Is match ErrNoRole and the STS error.
func (e *AccessError) Unwrap() error { return e.Err }

// accountPlaceholder is what MEDIC_MEMBER_ROLE_ARN holds in place of the account id.
const accountPlaceholder = "{account}"

// Option configures a Provider.
type Option func(*Provider)

// WithHome names the home account (MEDIC_HOME_ACCOUNT); without it STS is asked once, on first need.
func WithHome(account string) Option { return func(p *Provider) { p.home = account } }

// WithMemberRole sets the role template (MEDIC_MEMBER_ROLE_ARN), e.g.
// "arn:aws:iam::{account}:role/ecs-medic-member".
func WithMemberRole(template string) Option { return func(p *Provider) { p.role = template } }

// WithSTS replaces the STS client built from the configuration (tests).
func WithSTS(api STS) Option { return func(p *Provider) { p.sts = api } }

// WithCapacity bounds how many account+region client sets are kept (default 64); the least
// recently used is dropped, and built again (re-assuming its role) when next needed.
func WithCapacity(n int) Option { return func(p *Provider) { p.capacity = n } }

// WithClock injects the clock that paces retries of a failed home-account lookup.
func WithClock(now func() time.Time) Option { return func(p *Provider) { p.now = now } }

// Provider hands out client sets per account and region. Safe for concurrent use.
type Provider struct {
	cfg      aws.Config
	role     string
	sts      STS
	capacity int
	now      func() time.Time

	homeMu     sync.Mutex
	home       string
	homeErr    error
	homeFailAt time.Time

	mu     sync.Mutex // serialises building a set, so one account assumes its role once
	sets   *lru.Cache[string, *Clients]
	denied *lru.Cache[string, denial]
}

// denial remembers that an account's role could not be assumed, so that a storm of its events
// asks STS once every RetryDenied, not once per event.
type denial struct {
	err error
	at  time.Time
}

// RetryDenied is how long a role that could not be assumed is not tried again. It is shorter than
// the reconciler's minute, so each pass tries again.
const RetryDenied = 30 * time.Second

// ExpiryWindow is how long before their expiry assumed credentials are renewed, so that a call
// never goes out with credentials about to lapse (ExpiredToken).
const ExpiryWindow = 5 * time.Minute

// sessionName names ecs-medic's sessions in the member accounts' CloudTrail.
const sessionName = "ecs-medic"

// New returns a provider over the home account's configuration (default credentials, region,
// endpoints as the SDK's standard configuration gives them).
func New(cfg aws.Config, opts ...Option) *Provider {
	p := &Provider{cfg: cfg, capacity: 64, now: time.Now}
	for _, o := range opts {
		o(p)
	}
	if p.sts == nil {
		p.sts = sts.NewFromConfig(cfg)
	}
	if p.capacity < 1 {
		p.capacity = 1
	}
	p.sets, _ = lru.New[string, *Clients](p.capacity) // only fails for a size < 1
	p.denied, _ = lru.New[string, denial](p.capacity)
	return p
}

// RoleFor returns the member role of account, "" when none is configured.
func (p *Provider) RoleFor(account string) string {
	if p.role == "" {
		return ""
	}
	return strings.ReplaceAll(p.role, accountPlaceholder, account)
}

// Home returns the home account: MEDIC_HOME_ACCOUNT, else the account of the default
// credentials, asked of STS once (a failure is retried after a minute, not on every event).
func (p *Provider) Home(ctx context.Context) (string, error) {
	p.homeMu.Lock()
	defer p.homeMu.Unlock()
	if p.home != "" {
		return p.home, nil
	}
	if p.homeErr != nil && p.now().Sub(p.homeFailAt) < time.Minute {
		return "", p.homeErr
	}
	out, err := p.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		p.homeErr, p.homeFailAt = fmt.Errorf("find the home account (set MEDIC_HOME_ACCOUNT to skip): %w", err), p.now()
		return "", p.homeErr
	}
	p.home, p.homeErr = aws.ToString(out.Account), nil
	return p.home, nil
}

// For returns the clients of account in region ("" means the home account, and the configured
// region). For another account it assumes the member role (once, then cached until the
// credentials near expiry) and fails with an *AccessError when there is no role or it cannot be
// assumed: the caller must then leave that account alone.
func (p *Provider) For(ctx context.Context, account, region string) (*Clients, error) {
	if region == "" {
		region = p.cfg.Region
	}
	home := account == ""
	if !home && !IsAccountID(account) {
		// Events come from outside; an id that is not one never reaches an ARN or STS.
		return nil, &AccessError{Account: account, Err: errors.New("not an AWS account id (12 digits)")}
	}
	if !home {
		h, err := p.Home(ctx)
		if err != nil {
			return nil, &AccessError{Account: account, Err: err}
		}
		home = account == h
		if home {
			account = h
		}
	}
	key := account + "/" + region
	p.mu.Lock()
	set, ok := p.sets.Get(key)
	if !ok {
		var err error
		set, err = p.build(account, region, home)
		if err != nil {
			p.mu.Unlock()
			return nil, err
		}
		p.sets.Add(key, set)
	}
	p.mu.Unlock()
	if home {
		return set, nil
	}
	// The cached credentials are checked (and renewed when near expiry) here, so a role that
	// cannot be assumed is said once, clearly, instead of failing inside every SDK call.
	if d, ok := p.denied.Get(key); ok && p.now().Sub(d.at) < RetryDenied {
		return nil, d.err
	}
	if _, err := set.ECS.Options().Credentials.Retrieve(ctx); err != nil {
		aerr := &AccessError{Account: account, Role: p.RoleFor(account), Err: err}
		if ctx.Err() == nil { // a cancelled caller says nothing about the role
			p.denied.Add(key, denial{err: aerr, at: p.now()})
		}
		return nil, aerr
	}
	p.denied.Remove(key)
	return set, nil
}

func (p *Provider) build(account, region string, home bool) (*Clients, error) {
	cfg := p.cfg.Copy()
	cfg.Region = region
	if !home {
		role := p.RoleFor(account)
		if role == "" {
			return nil, &AccessError{Account: account, Err: ErrNoRole}
		}
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(p.sts, role, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = sessionName
		}), func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = ExpiryWindow })
	}
	return &Clients{
		Account: account,
		Region:  region,
		ECS:     ecs.NewFromConfig(cfg),
		Config:  cfg,
	}, nil
}

// IsAccountID reports whether s is an AWS account id: twelve digits.
func IsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Allowed is the MEDIC_ACCOUNTS allow-list: the accounts whose events are accepted. The zero
// value accepts every account.
type Allowed []string

// Permits reports whether events of account are accepted.
func (a Allowed) Permits(account string) bool {
	if len(a) == 0 {
		return true
	}
	for _, x := range a {
		if x == account {
			return true
		}
	}
	return false
}
