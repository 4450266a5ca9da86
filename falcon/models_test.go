package falcon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestTokenTimestamps(t *testing.T) {
	body := ok(`[
	 {"id":"a","label":"null","value":"v","type":"customer_managed","status":"valid","created_timestamp":"2025-02-03T09:15:00Z",
	  "expires_timestamp":null,"last_used_timestamp":null,"revoked_timestamp":null},
	 {"id":"b","label":"zero","value":"v","type":"customer_managed","status":"valid","created_timestamp":"0001-01-01T00:00:00Z",
	  "expires_timestamp":"0001-01-01T00:00:00Z","last_used_timestamp":"0001-01-01T00:00:00.000Z","revoked_timestamp":"0001-01-01T00:00:00.000000000Z"},
	 {"id":"c","label":"absent","value":"v","type":"future_type","status":"expired"},
	 {"id":"d","label":"set","value":"v","type":"customer_managed","status":"revoked","created_timestamp":"2025-02-03T09:15:00.123456789+01:00",
	  "expires_timestamp":"2026-01-01T00:00:00Z","last_used_timestamp":"2025-04-11T22:07:45.5Z","revoked_timestamp":"",
	  "unknown_field":{"nested":true}}
	]`)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeEnv(w, 200, body) })
	toks, err := f.client(nil).GetTokens(context.Background(), []string{"a", "b", "c", "d"})
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 4 {
		t.Fatalf("%d tokens", len(toks))
	}
	for _, tk := range toks[:3] {
		if tk.ExpiresTimestamp != nil || tk.LastUsedTimestamp != nil || tk.RevokedTimestamp != nil {
			t.Errorf("%s: unset timestamps must be nil: %+v", tk.Label, tk)
		}
	}
	if !toks[1].CreatedTimestamp.IsZero() || !toks[2].CreatedTimestamp.IsZero() {
		t.Error("zero/absent created_timestamp must be the zero time")
	}
	if toks[2].Type != "future_type" || toks[2].Status != "expired" {
		t.Errorf("unknown type/status must be kept verbatim: %+v", toks[2])
	}
	d := toks[3]
	wantCreated := time.Date(2025, 2, 3, 8, 15, 0, 123456789, time.UTC)
	if !d.CreatedTimestamp.Equal(wantCreated) || d.CreatedTimestamp.Location() != time.UTC {
		t.Errorf("created %v", d.CreatedTimestamp)
	}
	if d.ExpiresTimestamp == nil || !d.ExpiresTimestamp.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("expires %v", d.ExpiresTimestamp)
	}
	if d.LastUsedTimestamp == nil || d.LastUsedTimestamp.Nanosecond() != 500000000 || d.RevokedTimestamp != nil {
		t.Errorf("last used %v revoked %v", d.LastUsedTimestamp, d.RevokedTimestamp)
	}
}

func TestAuditEventAndSettingsDecoding(t *testing.T) {
	var e AuditEvent
	if err := json.Unmarshal([]byte(`{"id":"x","action":"brand_new_action","actor":"api-client-1","description":"d","timestamp":"2025-02-03T09:15:00.25Z","token_id":"","extra":[1]}`), &e); err != nil {
		t.Fatal(err)
	}
	if e.Action != "brand_new_action" || e.TokenID != "" || e.Timestamp.Nanosecond() != 250000000 {
		t.Errorf("%+v", e)
	}
	if err := json.Unmarshal([]byte(`{"id":"x","timestamp":null}`), &e); err != nil || !e.Timestamp.IsZero() {
		t.Errorf("null timestamp: %+v %v", e, err)
	}
	var s CustomerSettings
	if err := json.Unmarshal([]byte(`{"tokens_required":true}`), &s); err != nil || s.MaxActiveTokens != nil || !s.TokensRequired {
		t.Errorf("absent max_active_tokens = no limit: %+v %v", s, err)
	}
}

func TestSecretRedaction(t *testing.T) {
	const raw = "7D41C9A2-super-secret"
	tok := Token{ID: "id1", Label: "lbl", Value: Secret(raw), Status: "valid"}

	var outputs []string
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s"} {
		outputs = append(outputs, fmt.Sprintf(format, tok), fmt.Sprintf(format, tok.Value), fmt.Sprintf(format, &tok))
	}
	outputs = append(outputs, fmt.Sprint(tok.Value), fmt.Sprintln(tok), tok.Value.String(), tok.Value.GoString())

	js, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(js))
	jm, _ := json.Marshal(map[string]any{"v": tok.Value, "list": []Secret{tok.Value}})
	outputs = append(outputs, string(jm))
	txt, _ := tok.Value.MarshalText()
	outputs = append(outputs, string(txt))

	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		l := slog.New(h)
		l.Info("token", "token", tok, "value", tok.Value, "ptr", &tok)
		l.Info("group", slog.Group("g", slog.Any("v", tok.Value)))
	}
	outputs = append(outputs, buf.String())

	for _, out := range outputs {
		if strings.Contains(out, raw) || strings.Contains(out, fmt.Sprintf("%x", raw)) {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if !strings.Contains(string(js), `"value":"[REDACTED]"`) || !strings.Contains(buf.String(), "[REDACTED]") {
		t.Errorf("redaction marker missing: %s", js)
	}
	if tok.Value.Reveal() != raw {
		t.Error("Reveal must return the raw value")
	}
	// Decoding still yields the raw value.
	var back Token
	if err := json.Unmarshal([]byte(`{"id":"x","value":"`+raw+`"}`), &back); err != nil || back.Value.Reveal() != raw {
		t.Errorf("decode: %v", err)
	}
}

func TestMissing(t *testing.T) {
	got := Missing([]string{"a", "b", "c", "b"}, []Token{{ID: "c"}})
	if strings.Join(got, ",") != "a,b" {
		t.Errorf("%v", got)
	}
	if got := Missing([]string{"a"}, []AuditEvent{{ID: "a"}}); len(got) != 0 {
		t.Errorf("%v", got)
	}
}

func TestFQLHelpers(t *testing.T) {
	if got := FQLString("O'Brien's"); got != `'O\'Brien\'s'` {
		t.Errorf("%s", got)
	}
	if got := FQLString(`C:\temp\`); got != `'C:\\temp\\'` {
		t.Errorf("%s", got)
	}
	ts := time.Date(2025, 3, 1, 1, 2, 3, 999, time.FixedZone("x", 3600))
	if got := FQLTime(ts); got != "'2025-03-01T00:02:03Z'" {
		t.Errorf("%s", got)
	}
	if got := FQLList("token_create", "it's"); got != `['token_create','it\'s']` {
		t.Errorf("%s", got)
	}
	if got := FQLAnd("a:1", "", "b:2"); got != "a:1+b:2" {
		t.Errorf("%s", got)
	}
}
