package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awslambdasvc "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/ecs-medic/ecs-medic/internal/pipeline"
	"github.com/ecs-medic/ecs-medic/internal/smoke"
)

const smokeAbout = `After a deploy: sends one marked synthetic event through the deployed events function (or a
medic serve given with --url). The function recognises it before anything else and stores
nothing: Slack gets a message marked TEST, PagerDuty a change event (change events never page),
and no incident, mark or timeline is written, so there is nothing left to clean up. Prints what
each receiver did; exit 1 if any failed or the function does not know smoke tests.
Credentials and region are the AWS SDK's usual ones (AWS_PROFILE, AWS_REGION, ...).`

func smokeCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newFlags("smoke", stderr)
	function := fs.String("function", "ecs-medic-ecs-events", "the events function to invoke (Terraform output smoke_command names it)")
	region := fs.String("region", "", "AWS region of the function (default: the SDK's, AWS_REGION)")
	url := fs.String("url", "", "a medic serve to test instead of Lambda, e.g. http://127.0.0.1:8080 (MEDIC_API_TOKEN is sent if set)")
	if wantsHelp(args) {
		printHelp(stdout, fs, "medic smoke [--function NAME] [--region R] [--url URL]", smokeAbout)
		return 0
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	t := smoke.Test{ID: newSmokeID(), By: runner(getenv), At: time.Now()}
	raw, err := smoke.Event(t)
	if err != nil {
		fmt.Fprintf(stderr, "medic smoke: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	start := time.Now()
	var res pipeline.Result
	where := *url
	if where != "" {
		res, err = smokeServe(ctx, where, raw, getenv("MEDIC_API_TOKEN"))
	} else {
		where = "Lambda function " + *function
		res, err = smokeLambda(ctx, *function, *region, raw)
	}
	if err != nil {
		fmt.Fprintf(stderr, "medic smoke: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "smoke test %s through %s (%s)\n", t.ID, where, time.Since(start).Round(time.Millisecond))
	if res.Outcome != pipeline.OutcomeSmoke {
		fmt.Fprintf(stdout, "  ✗ the function answered %q (%s): it does not know smoke tests; deploy this version of ecs-medic\n", res.Outcome, res.Error)
		return 1
	}
	failed := false
	for _, a := range res.Actions {
		mark := "✓"
		if strings.Contains(a, ": failed") {
			mark, failed = "✗", true
		}
		fmt.Fprintf(stdout, "  %s %s\n", mark, a)
	}
	if len(res.Actions) == 0 {
		fmt.Fprintln(stdout, "  ✗ no receiver is configured: nothing was told")
		failed = true
	}
	fmt.Fprintln(stdout, "  nothing was stored: no incident, mark or timeline to clean up")
	if failed {
		return 1
	}
	return 0
}

// smokeLambda invokes the events function synchronously with the smoke event.
func smokeLambda(ctx context.Context, function, region string, raw []byte) (pipeline.Result, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return pipeline.Result{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	out, err := awslambdasvc.NewFromConfig(cfg).Invoke(ctx, &awslambdasvc.InvokeInput{FunctionName: aws.String(function), Payload: raw})
	if err != nil {
		return pipeline.Result{}, fmt.Errorf("invoke %s: %w", function, err)
	}
	if out.FunctionError != nil {
		return pipeline.Result{}, fmt.Errorf("%s failed (%s): %s; its log group /aws/lambda/%s says why", function, *out.FunctionError, out.Payload, function)
	}
	var res pipeline.Result
	if err := json.Unmarshal(out.Payload, &res); err != nil {
		return res, fmt.Errorf("%s answered %q: %w", function, out.Payload, err)
	}
	return res, nil
}

// smokeServe posts the smoke event to a medic serve.
func smokeServe(ctx context.Context, base string, raw []byte, token string) (pipeline.Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+"/events", bytes.NewReader(raw))
	if err != nil {
		return pipeline.Result{}, fmt.Errorf("smoke request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return pipeline.Result{}, fmt.Errorf("post to %s: %w", base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var out struct {
		Results []pipeline.Result `json:"results"`
		Error   string            `json:"error"`
	}
	if err := json.Unmarshal(body, &out); err != nil || len(out.Results) != 1 {
		return pipeline.Result{}, fmt.Errorf("%s answered %d %q", base, resp.StatusCode, body)
	}
	return out.Results[0], nil
}

// newSmokeID names a smoke test: its time and a random part, so two runs never collide.
func newSmokeID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("smoke-%s-%s", time.Now().UTC().Format("20060102-150405"), hex.EncodeToString(b))
}

var unsafeRunner = regexp.MustCompile(`[^A-Za-z0-9._@-]`)

// runner names who ran the test (user@host), shown in the receivers' messages.
func runner(getenv func(string) string) string {
	name := getenv("USER")
	if u, err := user.Current(); name == "" && err == nil {
		name = u.Username
	}
	if host, err := os.Hostname(); err == nil {
		name += "@" + host
	}
	name = unsafeRunner.ReplaceAllString(name, "")
	return name[:min(len(name), 64)]
}
