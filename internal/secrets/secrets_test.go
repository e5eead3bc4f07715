package secrets_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/secrets"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
)

// fakeAWS answers Secrets Manager and SSM on their JSON 1.1 wire protocol.
func fakeAWS(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var in map[string]any
		_ = json.Unmarshal(raw, &in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		switch r.Header.Get("X-Amz-Target") {
		case "secretsmanager.GetSecretValue":
			switch in["SecretId"] {
			case "arn:aws:secretsmanager:us-east-1:1:secret:pd":
				fmt.Fprint(w, `{"ARN":"arn:aws:secretsmanager:us-east-1:1:secret:pd","SecretString":"R0UTINGKEY"}`)
			case "arn:aws:secretsmanager:us-east-1:1:secret:slack":
				fmt.Fprint(w, `{"SecretString":"{\"token\":\"xoxb-FROM-JSON\"}"}`)
			default:
				w.WriteHeader(400)
				fmt.Fprint(w, `{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`)
			}
		case "AmazonSSM.GetParameter":
			if in["WithDecryption"] != true {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"__type":"ValidationException","message":"want decryption"}`)
				return
			}
			fmt.Fprint(w, `{"Parameter":{"Name":"/medic/signing","Value":"S1GNING","Type":"SecureString"}}`)
		default:
			w.WriteHeader(400)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func clients(url string) (*secrets.AWS, *secrets.AWS) {
	a := secrets.NewAWS(fakes.AWSConfig(url))
	return a, a
}

func TestResolve(t *testing.T) {
	srv := fakeAWS(t)
	sm, ps := clients(srv.URL)
	c, _ := config.Load(func(k string) string {
		return map[string]string{
			"MEDIC_PAGERDUTY_ROUTING_KEY_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:pd",
			"MEDIC_SLACK_BOT_TOKEN_ARN":       "arn:aws:secretsmanager:us-east-1:1:secret:slack",
			"MEDIC_SLACK_SIGNING_SECRET_SSM":  "/medic/signing",
		}[k]
	})
	if !secrets.Needed(&c) {
		t.Fatal("references not noticed")
	}
	if err := secrets.Resolve(context.Background(), &c, sm, ps); err != nil {
		t.Fatal(err)
	}
	if c.PagerDutyRoutingKey.Value.Reveal() != "R0UTINGKEY" || c.SlackBotToken.Value.Reveal() != "xoxb-FROM-JSON" || c.SlackSigningSecret.Value.Reveal() != "S1GNING" {
		t.Fatalf("%q %q %q", c.PagerDutyRoutingKey.Value.Reveal(), c.SlackBotToken.Value.Reveal(), c.SlackSigningSecret.Value.Reveal())
	}
}

func TestMissingSecretSaysWhich(t *testing.T) {
	srv := fakeAWS(t)
	sm, ps := clients(srv.URL)
	c, _ := config.Load(func(k string) string {
		if k == "MEDIC_SLACK_BOT_TOKEN_ARN" {
			return "arn:aws:secretsmanager:us-east-1:1:secret:gone"
		}
		return ""
	})
	err := secrets.Resolve(context.Background(), &c, sm, ps)
	if err == nil || !strings.Contains(err.Error(), "MEDIC_SLACK_BOT_TOKEN_ARN") {
		t.Fatalf("%v", err)
	}
}
