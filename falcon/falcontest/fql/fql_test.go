package fql

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var testSchema = Schema{
	{Name: "label", Kind: KindString},
	{Name: "status", Kind: KindString},
	{Name: "expires_timestamp", Kind: KindTime},
	{Name: "timestamp", Kind: KindTime},
}

type rec struct {
	label, status string
	expires       *time.Time
	ts            time.Time
}

func (r rec) Str(f int) string {
	switch f {
	case 0:
		return r.label
	case 1:
		return r.status
	}
	return ""
}

func (r rec) Time(f int) (time.Time, bool) {
	switch f {
	case 2:
		if r.expires == nil {
			return time.Time{}, false
		}
		return *r.expires, true
	case 3:
		return r.ts, true
	}
	return time.Time{}, false
}

func tp(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

var records = []rec{
	{label: "Linux prod", status: "valid", expires: tp("2025-03-01T00:00:00Z"), ts: *tp("2025-01-01T10:00:00Z")},
	{label: "Windows servers", status: "revoked", ts: *tp("2025-01-02T00:00:00Z")},
	{label: "it's linux/dev", status: "valid", expires: tp("2025-06-01T12:00:00Z"), ts: *tp("2025-01-02T00:00:00Z")},
	{label: "macOS laptops", status: "expired", ts: *tp("2025-01-03T23:59:59Z")},
	{label: "", status: "valid", ts: *tp("2025-01-04T00:00:00Z")},
}

// matches returns the indexes of records matching the filter.
func matches(t *testing.T, filter string, opt Options) []int {
	t.Helper()
	f, err := ParseAndCompile(filter, testSchema, opt)
	if err != nil {
		t.Fatalf("filter %q: %v", filter, err)
	}
	out := []int{}
	for i, r := range records {
		if f.Match(r) {
			out = append(out, i)
		}
	}
	return out
}

func TestOperators(t *testing.T) {
	for _, tc := range []struct {
		filter string
		want   []int
	}{
		{"", []int{0, 1, 2, 3, 4}},
		{"   ", []int{0, 1, 2, 3, 4}},
		{"status:'valid'", []int{0, 2, 4}},
		{"status:!'valid'", []int{1, 3}},
		{"label:'linux prod'", []int{}}, // exact match is case-sensitive
		{"label:>'W'", []int{1, 2, 3}},
		{"label:>'Windows servers'", []int{2, 3}},
		{"label:>='Windows servers'", []int{1, 2, 3}},
		{"label:<'L'", []int{4}},
		{"label:<='Linux prod'", []int{0, 4}},
		{"label:~'LINUX'", []int{0, 2}},
		{"label:~'its linux dev'", []int{2}}, // ignores punctuation and spaces
		{"label:!~'linux'", []int{1, 3, 4}},
		{"label:*'*linux*'", []int{0, 2}},
		{"label:*'linux*'", []int{0}},
		{"label:*'*/dev'", []int{2}},
		{"label:*'*'", []int{0, 1, 2, 3, 4}},
		{"label:null", []int{4}},
		{"label:!null", []int{0, 1, 2, 3}},
		{"status:['revoked','expired']", []int{1, 3}},
		{"status:!['revoked','expired']", []int{0, 2, 4}},
		{"expires_timestamp:null", []int{1, 3, 4}},
		{"expires_timestamp:!null", []int{0, 2}},
		{"expires_timestamp:>'2025-03-01'", []int{2}},
		{"expires_timestamp:>='2025-03-01'", []int{0, 2}},
		{"expires_timestamp:<'2025-06-01T12:00:00Z'", []int{0}},
		{"expires_timestamp:<='2025-06-01T12:00:00Z'", []int{0, 2}},
		{"expires_timestamp:'2025-03-01T01:00:00+01:00'", []int{0}}, // offsets compare as instants
		{"expires_timestamp:!'2025-03-01T00:00:00Z'", []int{1, 2, 3, 4}},
		{"expires_timestamp:['2025-03-01',null]", []int{0, 1, 3, 4}},
		{"timestamp:'2025-01-02'", []int{1, 2}}, // date-only = midnight UTC
		{"timestamp:>='2025-01-02'+timestamp:<'2025-01-04'", []int{1, 2, 3}},
		{"timestamp:>='2025-01-02' timestamp:<'2025-01-04'", []int{1, 2, 3}}, // whitespace = AND
		{"status:'revoked',status:'expired'", []int{1, 3}},
		{"status:'valid'+label:~'linux',status:'expired'", []int{0, 2, 3}}, // + binds tighter than ,
		{"status:'valid'+(label:~'linux',label:null)", []int{0, 2, 4}},
		{"label:'it\\'s linux/dev'", []int{2}},
		{"status:true", []int{}},
		{"label:42", []int{}},
		{"status : 'valid' + label : ~ 'prod'", []int{0}},
	} {
		if got := matches(t, tc.filter, Options{}); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func TestGreaterAsGreaterEqual(t *testing.T) {
	if got := matches(t, "timestamp:>'2025-01-02T00:00:00Z'", Options{}); !reflect.DeepEqual(got, []int{3, 4}) {
		t.Fatalf("strict >: got %v", got)
	}
	if got := matches(t, "timestamp:>'2025-01-02T00:00:00Z'", Options{GreaterAsGreaterEqual: true}); !reflect.DeepEqual(got, []int{1, 2, 3, 4}) {
		t.Fatalf("> as >=: got %v", got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, filter := range []string{
		"status",
		"status:",
		"status:'valid",
		"status:valid",
		`status:"valid"`,
		"status:'valid'+",
		"status:'valid',",
		"+status:'valid'",
		"status:'valid'))",
		"(status:'valid'",
		"status:[]",
		"status:['a',['b']]",
		"status:['a'",
		"status:['a' 'b']",
		"status:12abc",
		"status:99999999999999999999",
		"1status:'x'",
		"status:'a'status:'b'",
		"status:'a'&label:'b'",
		strings.Repeat("(", 40) + "status:'a'" + strings.Repeat(")", 40),
		strings.Repeat("status:'a'+", 20) + "status:'a'", // 21 properties
	} {
		e, err := Parse(filter)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, %v; want *SyntaxError", filter, e, err)
			continue
		}
		if se.Msg == "" || !strings.Contains(err.Error(), "position") {
			t.Errorf("Parse(%q): unhelpful message %q", filter, err)
		}
	}
	// Exactly 20 properties is fine; a list counts once.
	if _, err := Parse(strings.Repeat("status:['a','b']+", 19) + "status:'a'"); err != nil {
		t.Fatalf("20 properties: %v", err)
	}
}

func TestCompileErrors(t *testing.T) {
	for _, filter := range []string{
		"nope:'x'",
		"timestamp:'now-30d'",
		"timestamp:>'NOW'",
		"timestamp:'yesterday'",
		"timestamp:'2025-13-01'",
		"timestamp:'2025-01-01 00:00:00 01:00'", // an unencoded '+' in an offset decoded as a space
		"timestamp:42",
		"timestamp:true",
		"timestamp:~'2025'",
		"timestamp:*'2025*'",
		"timestamp:>null",
		"label:>['a','b']",
		"label:~null",
	} {
		_, err := ParseAndCompile(filter, testSchema, Options{})
		var ce *CompileError
		if !errors.As(err, &ce) {
			t.Errorf("%q: got %v, want *CompileError", filter, err)
		}
	}
}

func TestParseTreeAndString(t *testing.T) {
	e, err := Parse(`a:'x'+b:!~'y\'z',c:[1,true,null]`)
	if err != nil {
		t.Fatal(err)
	}
	want := &Or{Terms: []Expr{
		&And{Terms: []Expr{
			&Statement{Field: "a", Op: Eq, Value: Value{Kind: String, Str: "x"}},
			&Statement{Field: "b", Op: NotMatch, Value: Value{Kind: String, Str: "y'z"}},
		}},
		&Statement{Field: "c", Op: Eq, Value: Value{Kind: List, List: []Value{{Kind: Int, Int: 1}, {Kind: Bool, Bool: true}, {Kind: Null}}}},
	}}
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("tree mismatch:\n got %#v\nwant %#v", e, want)
	}
	if got := e.String(); got != `a:'x'+b:!~'y\'z',c:[1,true,null]` {
		t.Fatalf("String() = %s", got)
	}
	e, _ = Parse("(a:'1',b:'2')+c:<=-3")
	if got := e.String(); got != "(a:'1',b:'2')+c:<=-3" {
		t.Fatalf("String() = %s", got)
	}
}

func TestSplit(t *testing.T) {
	ts := testSchema.Index("timestamp")
	lo, hi := *tp("2025-01-02T00:00:00Z"), *tp("2025-01-04T00:00:00Z")
	for _, tc := range []struct {
		filter   string
		want     Range
		residual bool
	}{
		{"timestamp:>='2025-01-02'+timestamp:<'2025-01-04'", Range{Lo: lo, HasLo: true, Hi: hi, HasHi: true}, false},
		{"timestamp:>'2025-01-02'", Range{Lo: lo.Add(1), HasLo: true}, false},
		{"timestamp:<='2025-01-04'", Range{Hi: hi.Add(1), HasHi: true}, false},
		{"timestamp:'2025-01-02'", Range{Lo: lo, HasLo: true, Hi: lo.Add(1), HasHi: true}, false},
		{"timestamp:>='2025-01-02'+status:'valid'", Range{Lo: lo, HasLo: true}, true},
		{"timestamp:'2025-01-02',timestamp:'2025-01-04'", Range{Lo: lo, HasLo: true, Hi: hi.Add(1), HasHi: true}, true},
		{"status:'valid'", Range{}, true},
		{"timestamp:!'2025-01-02'", Range{}, true},
		{"", Range{}, false},
	} {
		f, err := ParseAndCompile(tc.filter, testSchema, Options{})
		if err != nil {
			t.Fatal(err)
		}
		r, residual := f.Split(ts)
		if r != tc.want || (residual != nil) != tc.residual {
			t.Errorf("%s: got %+v residual=%v, want %+v residual=%v", tc.filter, r, residual != nil, tc.want, tc.residual)
		}
		// Whatever the plan, range + residual must agree with the full filter on every record.
		for i, rc := range records {
			if got, want := r.Contains(rc.ts) && residual.Match(rc), f.Match(rc); got != want {
				t.Errorf("%s: record %d: plan says %v, filter says %v", tc.filter, i, got, want)
			}
		}
	}
	f, _ := ParseAndCompile("timestamp:>='2025-01-04'+timestamp:<'2025-01-02'", testSchema, Options{})
	if r, _ := f.Split(ts); !r.Empty() {
		t.Fatalf("contradictory bounds should give an empty range, got %+v", r)
	}
}

func TestParseSort(t *testing.T) {
	for in, want := range map[string][]SortKey{
		"":                              nil,
		"timestamp":                     {{Field: "timestamp"}},
		"timestamp.asc":                 {{Field: "timestamp"}},
		"timestamp.desc":                {{Field: "timestamp", Desc: true}},
		"timestamp|desc":                {{Field: "timestamp", Desc: true}},
		"created_timestamp|ASC":         {{Field: "created_timestamp"}},
		"status.desc, label|asc":        {{Field: "status", Desc: true}, {Field: "label"}},
		"last_used_timestamp.desc,":     nil, // error case, checked below
		"timestamp.down":                nil,
		".asc":                          nil,
		"time stamp.asc":                nil,
		"timestamp.asc;drop":            nil,
		"expires_timestamp.desc,id.asc": {{Field: "expires_timestamp", Desc: true}, {Field: "id"}},
	} {
		got, err := ParseSort(in)
		if want == nil && in != "" {
			if err == nil {
				t.Errorf("ParseSort(%q) = %v, want error", in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseSort(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]string{
		"2025-03-01":                     "2025-03-01T00:00:00Z",
		"2025-03-01T10:11:12Z":           "2025-03-01T10:11:12Z",
		"2025-03-01T10:11:12.5Z":         "2025-03-01T10:11:12.5Z",
		"2025-03-01T10:11:12+02:00":      "2025-03-01T08:11:12Z",
		"2025-03-01T10:11:12":            "2025-03-01T10:11:12Z",
		"0001-01-01T00:00:00.000Z":       "0001-01-01T00:00:00Z",
		"2025-03-01T10:11:12.123456789Z": "2025-03-01T10:11:12.123456789Z",
	} {
		got, err := ParseTime(in)
		if err != nil || got.Format(time.RFC3339Nano) != want {
			t.Errorf("ParseTime(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
}
