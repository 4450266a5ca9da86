package falcon

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkGetTokens500 measures one 500-ID tokens_read round trip against a
// local server: URL building, decoding and re-ordering.
func BenchmarkGetTokens500(b *testing.B) {
	ids := make([]string, 500)
	objs := make([]string, 500)
	for i := range ids {
		ids[i] = hexID(i)
		objs[len(objs)-1-i] = tokenJSON(ids[i])
	}
	body := ok(joinObjects(objs))
	f := newFake(b, func(w http.ResponseWriter, r *http.Request) { writeEnv(w, 200, body) })
	c := f.client(nil)
	ctx := context.Background()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		toks, err := c.GetTokens(ctx, ids)
		if err != nil || len(toks) != 500 {
			b.Fatal(len(toks), err)
		}
	}
}

// BenchmarkDecodeAuditEvents1000 measures envelope + model decoding alone.
func BenchmarkDecodeAuditEvents1000(b *testing.B) {
	objs := make([]string, 1000)
	for i := range objs {
		objs[i] = eventJSON(hexID(i))
	}
	data := []byte(ok("[" + strings.Join(objs, ",") + "]"))
	c, _ := New(withDefaults(Config{ClientID: "a", ClientSecret: "b", BaseURL: "http://127.0.0.1:1"}))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		o := c.decodeOK(call{op: "audit_events_read"}, 200, nil, data, nil, "")
		var items []auditWire
		if err := json.Unmarshal(o.resp.env.Resources, &items); err != nil || len(items) != 1000 {
			b.Fatal(err)
		}
		for i := range items {
			if e := items[i].event(); e.ID == "" {
				b.Fatal("no id")
			}
		}
	}
}
