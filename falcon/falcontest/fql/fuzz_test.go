package fql

import (
	"errors"
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"status:'valid'",
		"status:!'valid'+type:'customer_managed'",
		"label:*'*linux*'",
		"label:~'Prod',label:!~'dev'",
		"action:['token_create','token_delete']",
		"timestamp:>='2025-03-01T00:00:00Z'+timestamp:<'2025-03-02'",
		"timestamp:>'2025-03-01T00:00:00.5+01:00' timestamp:<='2025-03-02'",
		"expires_timestamp:null,last_used_timestamp:!null",
		"(status:'valid',status:'revoked')+label:'a\\'b'",
		"x:-12+y:true+z:false",
		"a:[1,'two',null]",
		"((((a:'b'))))",
		"a:'",
		"a:[",
		"a:'x'+",
		"timestamp:'now-30d'",
	} {
		f.Add(s)
	}
	schema := Schema{
		{Name: "status", Kind: KindString},
		{Name: "label", Kind: KindString},
		{Name: "action", Kind: KindString},
		{Name: "timestamp", Kind: KindTime},
		{Name: "expires_timestamp", Kind: KindTime},
		{Name: "last_used_timestamp", Kind: KindTime},
	}
	r := fuzzRec{ts: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q): error %T is not a *SyntaxError", s, err)
			}
			return
		}
		if e == nil {
			return
		}
		// The canonical rendering must parse back to the same rendering.
		text := e.String()
		e2, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q) ok but its rendering %q fails: %v", s, text, err)
		}
		if e2.String() != text {
			t.Fatalf("rendering not stable: %q -> %q -> %q", s, text, e2.String())
		}
		flt, err := Compile(e, schema, Options{})
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile(%q): error %T is not a *CompileError", s, err)
			}
			return
		}
		got := flt.Match(r)
		rng, residual := flt.Split(3)
		if want := rng.Contains(r.ts) && residual.Match(r); want != got {
			t.Fatalf("%q: Split plan disagrees with Match (%v vs %v)", s, want, got)
		}
	})
}

type fuzzRec struct{ ts time.Time }

func (fuzzRec) Str(f int) string {
	return [...]string{"valid", "Linux prod", "token_create"}[f%3]
}

func (r fuzzRec) Time(f int) (time.Time, bool) {
	if f == 4 {
		return time.Time{}, false
	}
	return r.ts, true
}
