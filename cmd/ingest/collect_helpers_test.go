package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/collector/topicread"
	"github.com/tokentrail/tokentrail/falcon/falcontest"
	"github.com/tokentrail/tokentrail/internal/kafkatest"
	"github.com/tokentrail/tokentrail/schema"
	"github.com/tokentrail/tokentrail/schema/schematest"
)

// collectEnv is an emulator behind an HTTP server and a kfake cluster.
type collectEnv struct {
	t       testing.TB
	emu     *falcontest.Emulator
	url     string
	brokers string
	dir     string
}

func newCollectEnv(t testing.TB, cfg falcontest.Config) *collectEnv {
	t.Helper()
	emu, err := falcontest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	_, brokers := kafkatest.Start(t, kafkatest.Options{})
	return &collectEnv{t: t, emu: emu, url: srv.URL, brokers: strings.Join(brokers, ","), dir: t.TempDir()}
}

// args are the flags pointing collect at the environment, with fast
// retries; the credentials go through the environment.
func (e *collectEnv) args(extra ...string) []string {
	return append([]string{"collect", "--falcon-base-url", e.url, "--kafka-brokers", e.brokers,
		"--state-dir", e.dir + "/state", "--falcon-requests-per-minute=-1", "--falcon-backoff-base", "5ms",
		"--falcon-backoff-max", "50ms", "--falcon-max-retries", "30", "--log-level", "debug"}, extra...)
}

func (e *collectEnv) setCredentials(t *testing.T, tn *falcontest.Tenant) (secret string) {
	id, secret := tn.Credentials()
	t.Setenv("FALCON_CLIENT_ID", id)
	t.Setenv("FALCON_CLIENT_SECRET", secret)
	return secret
}

// runIngest runs the command line in-process and returns its exit code and
// stderr.
func runIngest(args ...string) (int, string) {
	var out, errb syncBuffer
	code := run(args, &out, &errb)
	return code, errb.String()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// withClock points the collector's clock at the emulator's for one test.
func withClock(t *testing.T, c *falcontest.Clock) {
	old := collectNow
	collectNow = c.Now
	t.Cleanup(func() { collectNow = old })
}

// read returns every message of a topic; every validateEvery-th one (0:
// none) is checked against its JSON Schema, headers and key.
func (e *collectEnv) read(topic string, validateEvery int) []topicread.Message {
	e.t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(strings.Split(e.brokers, ",")...), Timeout: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var v *schematest.Validator
	if validateEvery > 0 {
		var err error
		if v, err = schematest.New(); err != nil {
			e.t.Fatal(err)
		}
	}
	var out []topicread.Message
	i := 0
	err := topicread.Read(ctx, client, topic, func(m topicread.Message) error {
		i++
		if v != nil && i%validateEvery == 0 {
			if err := v.ValidateMessage(m.Key, m.Value, m.Headers); err != nil {
				e.t.Errorf("%s %d@%d: %v", topic, m.Partition, m.Offset, err)
			}
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		e.t.Fatalf("read %s: %v", topic, err)
	}
	return out
}

// idCounts counts record ids (by key) of a topic for a tenant ("": any).
func (e *collectEnv) idCounts(topic, tenant string, validateEvery int) map[string]int {
	counts := map[string]int{}
	for _, m := range e.read(topic, validateEvery) {
		if tenant == "" {
			counts[string(m.Key)]++
			continue
		}
		var h struct {
			Tenant string `json:"tenant"`
		}
		if err := json.Unmarshal(m.Value, &h); err != nil {
			e.t.Fatal(err)
		}
		if h.Tenant == tenant {
			counts[string(m.Key)]++
		}
	}
	return counts
}

// compareIDs reports missing, duplicate and unexpected ids.
func compareIDs(got map[string]int, want []string) (missing, dups, extra int) {
	w := make(map[string]bool, len(want))
	for _, id := range want {
		w[id] = true
		switch n := got[id]; {
		case n == 0:
			missing++
		case n > 1:
			dups += n - 1
		}
	}
	for id := range got {
		if !w[id] {
			extra++
		}
	}
	return
}

// latestTokens returns the newest token record per id of a tenant and the
// number of token records.
func (e *collectEnv) latestTokens(tenant string) (map[string]schema.Token, int) {
	out := map[string]schema.Token{}
	n := 0
	for _, m := range e.read(schema.TopicTokens, 1) { // one key, one partition: offset order
		var r schema.Token
		if err := json.Unmarshal(m.Value, &r); err != nil {
			e.t.Fatal(err)
		}
		if r.Tenant == tenant {
			out[r.ID] = r
			n++
		}
	}
	return out, n
}
