package fql

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Kind is the type of a filterable field.
type Kind uint8

// Field kinds.
const (
	KindString Kind = iota + 1 // compared as text; null matches ""
	KindTime                   // RFC 3339 or date-only literals; null matches an unset time
)

// Field describes one filterable and sortable property.
type Field struct {
	Name string
	Kind Kind
}

// Schema lists the fields a filter may name. A field's position is the index passed to Record.
type Schema []Field

// Index returns the position of the named field, or -1.
func (s Schema) Index(name string) int {
	for i, f := range s {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// Record gives a compiled filter access to one record's fields, by schema index.
type Record interface {
	Str(field int) string
	// Time returns the field's value and false when it is unset.
	Time(field int) (time.Time, bool)
}

// Options adjust evaluation.
type Options struct {
	// GreaterAsGreaterEqual makes '>' behave like '>=' (a fault some Falcon endpoints show).
	GreaterAsGreaterEqual bool
}

// CompileError reports a filter that parses but does not fit the schema (unknown field, wrong value type,
// unsupported operator, bad timestamp).
type CompileError struct {
	Field string
	Msg   string
}

func (e *CompileError) Error() string {
	if e.Field == "" {
		return "invalid filter: " + e.Msg
	}
	return fmt.Sprintf("invalid filter on %q: %s", e.Field, e.Msg)
}

// Filter is a compiled expression. The nil *Filter matches every record.
type Filter struct {
	root node
}

// Compile checks e against the schema and prepares it for evaluation. A nil Expr yields a nil *Filter.
func Compile(e Expr, s Schema, opt Options) (*Filter, error) {
	if e == nil {
		return nil, nil
	}
	n, err := compile(e, s, opt)
	if err != nil {
		return nil, err
	}
	return &Filter{root: n}, nil
}

// ParseAndCompile is Parse followed by Compile.
func ParseAndCompile(filter string, s Schema, opt Options) (*Filter, error) {
	e, err := Parse(filter)
	if err != nil {
		return nil, err
	}
	return Compile(e, s, opt)
}

// Match reports whether r satisfies the filter.
func (f *Filter) Match(r Record) bool {
	if f == nil {
		return true
	}
	return f.root.match(r)
}

// Range is a half-open interval [Lo, Hi) of instants; an unset bound is unbounded.
type Range struct {
	Lo, Hi       time.Time
	HasLo, HasHi bool
}

// Empty reports whether no instant lies in the range.
func (r Range) Empty() bool { return r.HasLo && r.HasHi && !r.Lo.Before(r.Hi) }

// Contains reports whether t lies in the range.
func (r Range) Contains(t time.Time) bool {
	return (!r.HasLo || !t.Before(r.Lo)) && (!r.HasHi || t.Before(r.Hi))
}

func (r Range) intersect(o Range) Range {
	if o.HasLo && (!r.HasLo || o.Lo.After(r.Lo)) {
		r.Lo, r.HasLo = o.Lo, true
	}
	if o.HasHi && (!r.HasHi || o.Hi.Before(r.Hi)) {
		r.Hi, r.HasHi = o.Hi, true
	}
	return r
}

func (r Range) hull(o Range) Range {
	if r.Empty() {
		return o
	}
	if o.Empty() {
		return r
	}
	r.HasLo = r.HasLo && o.HasLo
	if r.HasLo && o.Lo.Before(r.Lo) {
		r.Lo = o.Lo
	}
	r.HasHi = r.HasHi && o.HasHi
	if r.HasHi && o.Hi.After(r.Hi) {
		r.Hi = o.Hi
	}
	return r
}

// Split plans a range scan over a time field that is never unset (such as an audit event's timestamp):
// every matching record has its field inside the returned Range, and a record inside the Range matches
// exactly when it also matches residual. residual is nil when the range alone decides, so a store sorted by
// that field can count and page matches by binary search without evaluating anything.
func (f *Filter) Split(field int) (r Range, residual *Filter) {
	if f == nil {
		return Range{}, nil
	}
	terms := []node{f.root}
	if a, ok := f.root.(andNode); ok {
		terms = a
	}
	var rest andNode
	for _, t := range terms {
		tr, exact := rangeOf(t, field)
		r = r.intersect(tr)
		if !exact {
			rest = append(rest, t)
		}
	}
	switch len(rest) {
	case 0:
		return r, nil
	case 1:
		return r, &Filter{root: rest[0]}
	}
	return r, &Filter{root: rest}
}

// rangeOf returns a range containing every match of n on field, and whether membership in it is exactly
// equivalent to n.
func rangeOf(n node, field int) (Range, bool) {
	switch n := n.(type) {
	case timeCmp:
		if n.field != field {
			return Range{}, false
		}
		next := n.t.Add(time.Nanosecond)
		switch n.op {
		case Eq:
			return Range{Lo: n.t, HasLo: true, Hi: next, HasHi: true}, true
		case Ge:
			return Range{Lo: n.t, HasLo: true}, true
		case Gt:
			return Range{Lo: next, HasLo: true}, true
		case Lt:
			return Range{Hi: n.t, HasHi: true}, true
		case Le:
			return Range{Hi: next, HasHi: true}, true
		}
	case andNode:
		var r Range
		exact := true
		for _, t := range n {
			tr, ex := rangeOf(t, field)
			r = r.intersect(tr)
			exact = exact && ex
		}
		return r, exact
	case orNode:
		var r Range
		for i, t := range n {
			tr, _ := rangeOf(t, field)
			if i == 0 {
				r = tr
			} else {
				r = r.hull(tr)
			}
		}
		return r, false
	}
	return Range{}, false
}

type node interface{ match(Record) bool }

type andNode []node

func (a andNode) match(r Record) bool {
	for _, n := range a {
		if !n.match(r) {
			return false
		}
	}
	return true
}

type orNode []node

func (o orNode) match(r Record) bool {
	for _, n := range o {
		if n.match(r) {
			return true
		}
	}
	return false
}

func compile(e Expr, s Schema, opt Options) (node, error) {
	switch e := e.(type) {
	case *And:
		out := make(andNode, 0, len(e.Terms))
		for _, t := range e.Terms {
			n, err := compile(t, s, opt)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, nil
	case *Or:
		out := make(orNode, 0, len(e.Terms))
		for _, t := range e.Terms {
			n, err := compile(t, s, opt)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, nil
	case *Statement:
		return compileStatement(e, s, opt)
	}
	return nil, &CompileError{Msg: fmt.Sprintf("unsupported expression %T", e)}
}

func compileStatement(st *Statement, s Schema, opt Options) (node, error) {
	idx := s.Index(st.Field)
	if idx < 0 {
		return nil, &CompileError{Field: st.Field, Msg: "unknown property"}
	}
	op := st.Op
	if op == Gt && opt.GreaterAsGreaterEqual {
		op = Ge
	}
	if st.Value.Kind == List {
		if op != Eq && op != Ne {
			return nil, &CompileError{Field: st.Field, Msg: fmt.Sprintf("operator %q does not take a list", op.String())}
		}
		terms := make([]node, 0, len(st.Value.List))
		for _, v := range st.Value.List {
			n, err := compileScalar(st.Field, idx, s[idx].Kind, op, v)
			if err != nil {
				return nil, err
			}
			terms = append(terms, n)
		}
		if op == Eq {
			return orNode(terms), nil
		}
		return andNode(terms), nil
	}
	return compileScalar(st.Field, idx, s[idx].Kind, op, st.Value)
}

func compileScalar(name string, idx int, kind Kind, op Op, v Value) (node, error) {
	bad := func(format string, args ...any) (node, error) {
		return nil, &CompileError{Field: name, Msg: fmt.Sprintf(format, args...)}
	}
	if v.Kind == Null {
		if op != Eq && op != Ne {
			return bad("operator %q does not take null", op.String())
		}
		if kind == KindTime {
			return timeNull{field: idx, neg: op == Ne}, nil
		}
		return strCmp{field: idx, op: op}, nil
	}
	switch kind {
	case KindTime:
		if v.Kind != String {
			return bad("expected a quoted timestamp, got %s", v.String())
		}
		switch op {
		case Match, NotMatch, Wildcard:
			return bad("operator %q is not supported on timestamps", op.String())
		}
		t, err := ParseTime(v.Str)
		if err != nil {
			return bad("%v", err)
		}
		return timeCmp{field: idx, op: op, t: t}, nil
	case KindString:
		var text string
		switch v.Kind {
		case String:
			text = v.Str
		case Int:
			text = strconv.FormatInt(v.Int, 10)
		case Bool:
			text = strconv.FormatBool(v.Bool)
		}
		switch op {
		case Match, NotMatch:
			return strMatch{field: idx, needle: normalize(text), neg: op == NotMatch}, nil
		case Wildcard:
			return strWild{field: idx, pattern: escapeGlob(strings.ToLower(text))}, nil
		}
		return strCmp{field: idx, op: op, v: text}, nil
	}
	return bad("field kind %d is not supported", kind)
}

// escapeGlob keeps '*' as the only wildcard: path.Match's '?', '[' and '\' become literals.
func escapeGlob(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '?', '[', ']', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '/':
			// path.Match never lets '*' cross '/'; labels may contain it, so map it to a rarely used byte on
			// both sides (see strWild.match).
			b.WriteByte(0x1f)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

type strCmp struct {
	field int
	op    Op
	v     string
}

func (c strCmp) match(r Record) bool {
	s := r.Str(c.field)
	switch c.op {
	case Eq:
		return s == c.v
	case Ne:
		return s != c.v
	case Gt:
		return s > c.v
	case Ge:
		return s >= c.v
	case Lt:
		return s < c.v
	case Le:
		return s <= c.v
	}
	return false
}

type strMatch struct {
	field  int
	needle string
	neg    bool
}

func (m strMatch) match(r Record) bool {
	return strings.Contains(normalize(r.Str(m.field)), m.needle) != m.neg
}

// normalize lowercases and drops everything but letters and digits, so '~' ignores case, spaces and
// punctuation.
func normalize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

type strWild struct {
	field   int
	pattern string
}

func (w strWild) match(r Record) bool {
	s := strings.ReplaceAll(strings.ToLower(r.Str(w.field)), "/", "\x1f")
	ok, _ := path.Match(w.pattern, s)
	return ok
}

type timeCmp struct {
	field int
	op    Op
	t     time.Time
}

func (c timeCmp) match(r Record) bool {
	t, ok := r.Time(c.field)
	if !ok {
		return c.op == Ne
	}
	switch k := t.Compare(c.t); c.op {
	case Eq:
		return k == 0
	case Ne:
		return k != 0
	case Gt:
		return k > 0
	case Ge:
		return k >= 0
	case Lt:
		return k < 0
	case Le:
		return k <= 0
	}
	return false
}

type timeNull struct {
	field int
	neg   bool
}

func (n timeNull) match(r Record) bool {
	_, ok := r.Time(n.field)
	return ok == n.neg
}

// ParseTime parses an FQL timestamp literal: 'YYYY-MM-DD' (midnight UTC) or RFC 3339 with or without
// fractional seconds and with Z or a numeric offset. A missing zone means UTC. Relative forms such as
// 'now-30d' are rejected.
func ParseTime(s string) (time.Time, error) {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(s)), "now") {
		return time.Time{}, fmt.Errorf("relative time %q is not supported; use an absolute RFC 3339 timestamp", s)
	}
	for _, layout := range [...]string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid timestamp %q: want 'YYYY-MM-DD' or 'YYYY-MM-DDTHH:MM:SSZ'", s)
}
