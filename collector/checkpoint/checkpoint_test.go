package checkpoint_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/collector/checkpoint"
	"github.com/tokentrail/tokentrail/internal/kafkatest"
	"github.com/tokentrail/tokentrail/kafkaconn"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func sample(tenant string) *checkpoint.State {
	st := checkpoint.New(tenant, t0.Add(-time.Hour))
	st.Audit.Cursor = t0
	st.Audit.Recent["a1"] = t0
	st.Audit.Recent["a2"] = t0
	st.Audit.Recent["a0"] = t0.Add(-time.Minute)
	exp := t0.Add(24 * time.Hour)
	st.Tokens["t1"] = checkpoint.Token{Label: "prod", TokenType: "customer_managed", Status: "valid", ValueFingerprint: strings.Repeat("ab", 32),
		CreatedTimestamp: t0.Add(-48 * time.Hour), ExpiresTimestamp: &exp}
	max := int64(5)
	st.Settings = &checkpoint.Settings{MaxActiveTokens: &max, TokensRequired: true}
	return st
}

func equalState(t *testing.T, got, want *checkpoint.State) {
	t.Helper()
	a, _ := got.Marshal()
	b, _ := want.Marshal()
	if string(a) != string(b) {
		t.Fatalf("state differs:\n got %s\nwant %s", a, b)
	}
}

func TestMarshalRoundTripAndSeenAtCursor(t *testing.T) {
	st := sample("acme")
	data, err := st.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := st.Clone().Marshal()
	if string(data) != string(again) {
		t.Fatal("encoding is not deterministic")
	}
	back, err := checkpoint.Unmarshal(data, "acme", "mem")
	if err != nil {
		t.Fatal(err)
	}
	equalState(t, back, st)
	if got := back.Audit.SeenAtCursor(); len(got) != 2 || got[0] != "a1" || got[1] != "a2" {
		t.Fatalf("SeenAtCursor = %v", got)
	}
	if !strings.Contains(string(data), `"seen_at_cursor":["a1","a2"]`) {
		t.Fatalf("seen_at_cursor not written: %s", data)
	}
	back.Audit.Prune(30 * time.Second)
	if _, ok := back.Audit.Recent["a0"]; ok {
		t.Fatal("Prune kept an ID older than the lookback")
	}
	if len(back.Audit.Recent) != 2 {
		t.Fatalf("Prune dropped IDs at the cursor: %v", back.Audit.Recent)
	}
}

func TestUnmarshalRejectsCorrupt(t *testing.T) {
	good, _ := sample("acme").Marshal()
	for name, data := range map[string]string{
		"truncated":     string(good[:len(good)/2]),
		"empty":         "",
		"not json":      "hello",
		"wrong version": strings.Replace(string(good), `"version":1`, `"version":99`, 1),
		"wrong tenant":  strings.Replace(string(good), `"tenant":"acme"`, `"tenant":"other"`, 1),
		"cursor before start": strings.Replace(string(good), `"cursor":"2025-03-01T12:00:00Z"`,
			`"cursor":"2020-01-01T00:00:00Z"`, 1),
		"seen not in recent": strings.Replace(string(good), `"seen_at_cursor":["a1","a2"]`, `"seen_at_cursor":["zz"]`, 1),
	} {
		_, err := checkpoint.Unmarshal([]byte(data), "acme", "mem")
		var ce *checkpoint.CorruptError
		if !errors.Is(err, checkpoint.ErrCorrupt) || !errors.As(err, &ce) {
			t.Errorf("%s: err = %v, want a CorruptError", name, err)
		}
	}
}

func TestFileStore(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "state")
	s, err := checkpoint.OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := s.Load(ctx, "acme"); st != nil || err != nil {
		t.Fatalf("Load of a fresh store = %v, %v; want nil, nil", st, err)
	}
	want := sample("acme")
	if err := s.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	want.Audit.Cursor = t0.Add(time.Second) // second save replaces the first
	want.Audit.Recent["a3"] = want.Audit.Cursor
	if err := s.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	// A crash leftover is removed on open; the checkpoint survives.
	if err := os.WriteFile(filepath.Join(dir, ".tmp-acme-123"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := checkpoint.OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Load(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	equalState(t, got, want)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "acme.json" {
		t.Fatalf("state dir holds %v, want only acme.json", entries)
	}
	if fi, _ := os.Stat(s2.Path("acme")); fi.Mode().Perm() != 0o600 {
		t.Errorf("checkpoint mode %v, want 0600", fi.Mode().Perm())
	}

	// Corrupt and unreadable files are errors, never a fresh start.
	if err := os.WriteFile(s2.Path("acme"), []byte(`{"version":1,"tenant":"ac`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Load(ctx, "acme"); !errors.Is(err, checkpoint.ErrCorrupt) {
		t.Fatalf("Load of a truncated file: %v, want ErrCorrupt", err)
	}
	if err := os.Mkdir(s2.Path("dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Load(ctx, "dir"); !errors.Is(err, checkpoint.ErrCorrupt) || !strings.Contains(err.Error(), "dir.json") {
		t.Fatalf("Load of an unreadable file: %v, want ErrCorrupt naming the file", err)
	}
	if _, err := s2.Load(ctx, "../etc"); !errors.Is(err, checkpoint.ErrInvalidTenant) {
		t.Fatalf("Load(../etc): %v, want ErrInvalidTenant", err)
	}
}

func TestKafkaStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, brokers := kafkatest.Start(t, kafkatest.Options{})
	conn := kafkaconn.Config{Brokers: brokers}

	if _, err := mustOpen(t, ctx, checkpoint.KafkaConfig{Conn: conn, Topic: "absent"}).Load(ctx, "acme"); err == nil ||
		!strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Load from a missing topic without Create: %v, want an error", err)
	}

	cfg := checkpoint.KafkaConfig{Conn: conn, Topic: "ckpt", Create: true}
	s := mustOpen(t, ctx, cfg)
	if st, err := s.Load(ctx, "acme"); st != nil || err != nil {
		t.Fatalf("Load of an empty topic = %v, %v", st, err)
	}
	want := sample("acme")
	for i := 0; i < 3; i++ {
		want.Audit.Cursor = t0.Add(time.Duration(i) * time.Second)
		want.Audit.Recent["x"] = want.Audit.Cursor
		if err := s.Save(ctx, want); err != nil {
			t.Fatal(err)
		}
	}
	other := sample("beta")
	if err := s.Save(ctx, other); err != nil {
		t.Fatal(err)
	}
	// A second store (another host) sees the newest record of each tenant.
	s2 := mustOpen(t, ctx, cfg)
	got, err := s2.Load(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	equalState(t, got, want)
	if got, err := s2.Load(ctx, "beta"); err != nil || got == nil || got.Tenant != "beta" {
		t.Fatalf("Load(beta) = %v, %v", got, err)
	}

	// The topic is compacted, with one partition.
	tr, _ := conn.Transport()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr}
	res, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: "ckpt", ConfigNames: []string{"cleanup.policy"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Resources) != 1 || len(res.Resources[0].ConfigEntries) != 1 || res.Resources[0].ConfigEntries[0].ConfigValue != "compact" {
		t.Fatalf("cleanup.policy of ckpt: %+v", res.Resources)
	}

	// A corrupt newest record is an error, not a fresh start.
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "ckpt", RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("acme"), Value: []byte("{garbage")}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := mustOpen(t, ctx, cfg).Load(ctx, "acme"); !errors.Is(err, checkpoint.ErrCorrupt) || !strings.Contains(err.Error(), "ckpt[acme]") {
		t.Fatalf("Load of a corrupt record: %v, want ErrCorrupt naming ckpt[acme]", err)
	}
}

func mustOpen(t *testing.T, ctx context.Context, cfg checkpoint.KafkaConfig) *checkpoint.KafkaStore {
	t.Helper()
	s, err := checkpoint.OpenKafkaStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
