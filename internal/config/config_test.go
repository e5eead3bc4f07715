package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/runbook"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DB != "medic.db" || c.Addr != "127.0.0.1:8080" || c.AutoFix != runbook.Suggest || c.DryRun || c.Table != "" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestLoadValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"MEDIC_TABLE": "medic", "MEDIC_AUTOFIX": "AUTO", "MEDIC_DRY_RUN": "true",
		"MEDIC_PAGERDUTY_ROUTING_KEY": "R0UTINGKEY", "MEDIC_SLACK_BOT_TOKEN_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:slack",
		"MEDIC_SLACK_ALLOWED_USERS": "U1, U2,U3", "MEDIC_DB": "/tmp/x.db", "MEDIC_ADDR": ":9090",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.AutoFix != runbook.Auto || !c.DryRun || c.Table != "medic" || len(c.SlackAllowedUsers) != 3 || c.DB != "/tmp/x.db" || c.Addr != ":9090" {
		t.Fatalf("%+v", c)
	}
	if !c.SlackBotToken.Set() || c.SlackBotToken.ARN == "" || c.PagerDutyRoutingKey.Value.Reveal() != "R0UTINGKEY" {
		t.Fatalf("secrets: %+v", c)
	}
}

func TestLoadRejectsBadValues(t *testing.T) {
	_, err := Load(env(map[string]string{"MEDIC_AUTOFIX": "yolo", "MEDIC_DRY_RUN": "maybe", "MEDIC_LOG_LEVEL": "loud"}))
	if err == nil {
		t.Fatal("bad values accepted")
	}
	for _, want := range []string{"MEDIC_AUTOFIX", "MEDIC_DRY_RUN", "MEDIC_LOG_LEVEL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	c, _ := Load(env(map[string]string{"MEDIC_PAGERDUTY_ROUTING_KEY": "R0UTINGKEY"}))
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(c.PagerDutyRoutingKey.Value)} {
		if strings.Contains(s, "R0UTINGKEY") {
			t.Fatalf("secret printed: %s", s)
		}
	}
}

func TestLoadRefusesWhatCannotWork(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		says string
	}{
		"a user name":       {map[string]string{"MEDIC_SLACK_ALLOWED_USERS": "U0ALICE,alice"}, `MEDIC_SLACK_ALLOWED_USERS "alice"`},
		"a group name":      {map[string]string{"MEDIC_SLACK_ALLOWED_GROUPS": "oncall"}, `MEDIC_SLACK_ALLOWED_GROUPS "oncall"`},
		"max tasks":         {map[string]string{"MEDIC_MAX_TASKS": "100000"}, "MEDIC_MAX_TASKS"},
		"max tasks of text": {map[string]string{"MEDIC_MAX_TASKS": "lots"}, "MEDIC_MAX_TASKS"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("%v, want an error naming %s", err, tc.says)
			}
		})
	}
	c, err := Load(env(map[string]string{"MEDIC_MAX_TASKS": "40"}))
	if err != nil || c.MaxTasks != 40 {
		t.Fatalf("%d %v", c.MaxTasks, err)
	}
	if c, _ := Load(env(nil)); c.MaxTasks != DefaultMaxTasks {
		t.Fatalf("default max tasks %d", c.MaxTasks)
	}
}

func TestCheckSecrets(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		says string
	}{
		"whitespace signing secret": {map[string]string{"MEDIC_SLACK_SIGNING_SECRET": "  \t"}, "MEDIC_SLACK_SIGNING_SECRET"},
		"31-character routing key":  {map[string]string{"MEDIC_PAGERDUTY_ROUTING_KEY": strings.Repeat("k", 31)}, "has 31 characters"},
		"short API token":           {map[string]string{"MEDIC_API_TOKEN": "secret"}, "MEDIC_API_TOKEN"},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := Load(env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.CheckSecrets(); err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("%v, want an error naming %s", err, tc.says)
			}
		})
	}
	c, _ := Load(env(map[string]string{"MEDIC_PAGERDUTY_ROUTING_KEY": strings.Repeat("k", 32), "MEDIC_SLACK_SIGNING_SECRET": "s3cr3t"}))
	if err := c.CheckSecrets(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadAccounts(t *testing.T) {
	c, err := Load(env(map[string]string{"MEDIC_MEMBER_ROLE_ARN": "arn:aws:iam::{account}:role/ecs-medic-member",
		"MEDIC_ACCOUNTS": "111122223333, 222233334444", "MEDIC_HOME_ACCOUNT": "111122223333", "MEDIC_ROUTES": "/etc/medic/routes.yaml"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.MemberRoleARN == "" || len(c.Accounts) != 2 || c.HomeAccount != "111122223333" || c.Routes != "/etc/medic/routes.yaml" {
		t.Fatalf("%+v", c)
	}
	_, err = Load(env(map[string]string{"MEDIC_MEMBER_ROLE_ARN": "arn:aws:iam::222233334444:role/x", "MEDIC_ACCOUNTS": "1234,abc"}))
	for _, want := range []string{"{account}", `"1234"`, `"abc"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %s: %v", want, err)
		}
	}
}
