package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/collector/checkpoint"
	"github.com/tokentrail/tokentrail/falcon/falcontest"
	"github.com/tokentrail/tokentrail/schema"
)

// No record, log line or checkpoint (file or topic) contains a token value
// or the client secret, whatever the run does: debug logs, faults and
// retries, token changes, a rejected secret.
func TestCollectSecretsNeverLeak(t *testing.T) {
	clock := falcontest.NewClock(collectEpoch)
	e := newCollectEnv(t, falcontest.Config{Seed: 77, Clock: clock,
		Tenants: []falcontest.TenantConfig{{Tokens: 40, Events: 4000, Ties: 100, LateFraction: 0.2}},
		Faults:  falcontest.Faults{ServerErrorRate: 0.05, TruncateRate: 0.03, InvalidJSONRate: 0.02}})
	withClock(t, clock)
	tn := e.emu.Tenants()[0]
	secret := e.setCredentials(t, tn)
	var logs strings.Builder
	values := map[string]bool{} // every value any token ever had
	remember := func() {
		for _, tok := range tn.Tokens() {
			values[tok.Value] = true
		}
	}
	remember()

	// A wrong secret: the error names no secret.
	t.Setenv("FALCON_CLIENT_SECRET", "WRONG-"+secret)
	code, stderr := runIngest(e.args("--once")...)
	if code != 1 || !strings.Contains(lastLogLine(stderr), "authentication failed") {
		t.Fatalf("wrong secret: exit %d, %q; want 1 and an authentication error", code, lastLogLine(stderr))
	}
	logs.WriteString(stderr)
	t.Setenv("FALCON_CLIENT_SECRET", secret)

	for i, extra := range [][]string{
		{"--checkpoint", "file"},
		{"--checkpoint", "kafka"},
		{"--checkpoint", "kafka", "--log-format", "json"},
	} {
		if i > 0 {
			// Token changes between runs, so that records and checkpoints
			// are rewritten with new values around.
			clock.Advance(time.Minute)
			toks := tn.Tokens()
			mustNoErr(t, tn.RenameToken("x", toks[i].ID, "renamed"))
			_, err := tn.CreateToken("x", "new", nil)
			mustNoErr(t, err)
			mustNoErr(t, tn.DeleteToken("x", toks[i+5].ID))
		}
		remember()
		code, stderr := runIngest(append(e.args("--once", "--start-time", "all"), extra...)...)
		logs.WriteString(stderr)
		if code != 0 {
			t.Fatalf("run %d: exit %d\n%s", i, code, tail(stderr))
		}
	}

	if len(values) < 42 {
		t.Fatalf("only %d token values", len(values))
	}
	check := func(where string, data []byte) {
		t.Helper()
		if len(data) == 0 {
			return
		}
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("%s contains the client secret", where)
		}
		for v := range values {
			if bytes.Contains(data, []byte(v)) {
				t.Errorf("%s contains a token value", where)
				return
			}
		}
	}
	if !strings.Contains(logs.String(), "level=DEBUG") || strings.Count(logs.String(), "\n") < 10 {
		t.Fatalf("too few log lines to be a test:\n%s", logs.String())
	}
	check("the logs", []byte(logs.String()))
	records := 0
	for _, topic := range []string{schema.TopicAuditEvents, schema.TopicTokens, schema.TopicSettings, checkpoint.DefaultTopic} {
		for _, m := range e.read(topic, 0) {
			records++
			check(topic+" value", m.Value)
			check(topic+" key", m.Key)
			for _, h := range m.Headers {
				check(topic+" header", h.Value)
			}
		}
	}
	if records < 4000 {
		t.Fatalf("only %d records read", records)
	}
	files, err := filepath.Glob(filepath.Join(e.dir, "state", "*"))
	mustNoErr(t, err)
	if len(files) == 0 {
		t.Fatal("no checkpoint file")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		mustNoErr(t, err)
		check(f, data)
	}
}
