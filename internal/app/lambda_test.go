package app_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
)

// A Lambda function checks its configuration at init and builds its App at the first
// invocation; a build that fails fails that invocation and is tried again at the next, and a
// built App is kept for the ones after.
func TestLambdaBuildsAtFirstInvocationAndRetries(t *testing.T) {
	if _, err := app.NewLambda(func(string) string { return "" }, nil); err == nil || !strings.Contains(err.Error(), "MEDIC_TABLE") {
		t.Fatalf("no table: %v", err)
	}
	for k, v := range map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none")} {
		t.Setenv(k, v)
	}
	dir := filepath.Join(t.TempDir(), "runbooks")
	env := map[string]string{"MEDIC_TABLE": "medic", "MEDIC_RUNBOOKS": dir, "MEDIC_HOME_ACCOUNT": eventgen.Account, "MEDIC_LOG_LEVEL": "error"}
	parts, built := 0, 0
	l, err := app.NewLambda(func(k string) string { return env[k] }, func(aws.Config, *zap.Logger, *app.Options) { parts++ })
	if err != nil {
		t.Fatal(err)
	}
	h := app.LambdaHandler(l, func(a *app.App) func(context.Context, string) (string, error) {
		built++
		return func(_ context.Context, in string) (string, error) { return in + " in " + a.Region(), nil }
	})
	if parts != 0 {
		t.Fatal("the App's parts were built at init")
	}
	if _, err := h(context.Background(), "first"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("a missing runbooks folder: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oom-killed.md"), []byte(fixRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"second", "third"} {
		out, err := h(context.Background(), in)
		if err != nil || out != in+" in us-east-1" {
			t.Fatalf("%s: %q %v", in, out, err)
		}
	}
	if parts != 2 || built != 1 {
		t.Fatalf("parts built %d times, handler %d times; want 2 (one failed) and 1", parts, built)
	}
}
