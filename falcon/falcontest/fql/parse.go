package fql

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxProperties is the largest number of statements (property:value terms) one filter may hold.
const MaxProperties = 20

// maxDepth bounds parenthesis nesting so hostile input cannot exhaust the stack.
const maxDepth = 32

// Op is a statement operator.
type Op uint8

// Operators, in the order FQL spells them after the colon.
const (
	Eq       Op = iota // property:'v' (exact match)
	Ne                 // property:!'v'
	Gt                 // property:>'v'
	Ge                 // property:>='v'
	Lt                 // property:<'v'
	Le                 // property:<='v'
	Match              // property:~'v' (text match ignoring case, spaces and punctuation)
	NotMatch           // property:!~'v'
	Wildcard           // property:*'v*' (glob with '*')
)

var opText = [...]string{Eq: "", Ne: "!", Gt: ">", Ge: ">=", Lt: "<", Le: "<=", Match: "~", NotMatch: "!~", Wildcard: "*"}

// String returns the operator as written after the colon ("" for Eq).
func (o Op) String() string {
	if int(o) < len(opText) {
		return opText[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// ValueKind tells which field of a Value is meaningful.
type ValueKind uint8

// Value kinds.
const (
	String ValueKind = iota // 'quoted'
	Int                     // 42, -7
	Bool                    // true, false
	Null                    // null
	List                    // ['a','b']
)

// Value is a literal on the right-hand side of a statement.
type Value struct {
	Kind ValueKind
	Str  string  // String
	Int  int64   // Int
	Bool bool    // Bool
	List []Value // List: scalars only
}

// String renders the value in FQL syntax.
func (v Value) String() string {
	switch v.Kind {
	case String:
		return quote(v.Str)
	case Int:
		return strconv.FormatInt(v.Int, 10)
	case Bool:
		return strconv.FormatBool(v.Bool)
	case Null:
		return "null"
	case List:
		parts := make([]string, len(v.List))
		for i, e := range v.List {
			parts[i] = e.String()
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return "?"
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String()
}

// Expr is a parsed filter: *Statement, *And or *Or.
type Expr interface {
	// String renders the expression in canonical FQL; Parse(e.String()) yields an equal expression.
	String() string
	expr()
}

// Statement is one property:[operator]value term.
type Statement struct {
	Field string
	Op    Op
	Value Value
}

// And matches when every term matches ('+' or whitespace between statements).
type And struct{ Terms []Expr }

// Or matches when any term matches (',').
type Or struct{ Terms []Expr }

func (*Statement) expr() {}
func (*And) expr()       {}
func (*Or) expr()        {}

func (s *Statement) String() string { return s.Field + ":" + s.Op.String() + s.Value.String() }

func (a *And) String() string { return join(a.Terms, "+", false) }

func (o *Or) String() string { return join(o.Terms, ",", true) }

func join(terms []Expr, sep string, inOr bool) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		s := t.String()
		// An Or inside an And needs parentheses because '+' binds tighter than ','.
		if _, ok := t.(*Or); ok && !inOr {
			s = "(" + s + ")"
		}
		parts[i] = s
	}
	return strings.Join(parts, sep)
}

// SyntaxError reports where and why a filter failed to parse.
type SyntaxError struct {
	Pos int // byte offset in the filter
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid filter at position %d: %s", e.Pos, e.Msg)
}

// Parse parses an FQL filter. '+' (or whitespace between two statements) is AND, ',' is OR, '+' binds
// tighter than ',', and parentheses group. An empty or all-blank filter yields (nil, nil): match everything.
// Parse never panics; every malformed input returns a *SyntaxError.
func Parse(filter string) (Expr, error) {
	p := &parser{s: filter}
	p.skipSpace()
	if p.eof() {
		return nil, nil
	}
	e, err := p.parseOr(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.eof() {
		return nil, p.errf("unexpected %q", p.s[p.pos])
	}
	return e, nil
}

type parser struct {
	s     string
	pos   int
	props int
}

func (p *parser) eof() bool { return p.pos >= len(p.s) }

func (p *parser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.pos]
}

func (p *parser) errf(format string, args ...any) error {
	return &SyntaxError{Pos: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *parser) skipSpace() int {
	start := p.pos
	for !p.eof() && isSpace(p.s[p.pos]) {
		p.pos++
	}
	return p.pos - start
}

func isIdentStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }

func isIdent(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') || c == '.' }

func (p *parser) parseOr(depth int) (Expr, error) {
	first, err := p.parseAnd(depth)
	if err != nil {
		return nil, err
	}
	terms := []Expr{first}
	for {
		p.skipSpace()
		if p.peek() != ',' {
			break
		}
		p.pos++
		t, err := p.parseAnd(depth)
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
	}
	if len(terms) == 1 {
		return first, nil
	}
	return &Or{Terms: terms}, nil
}

func (p *parser) parseAnd(depth int) (Expr, error) {
	first, err := p.parseUnary(depth)
	if err != nil {
		return nil, err
	}
	terms := []Expr{first}
	for {
		save := p.pos
		spaces := p.skipSpace()
		c := p.peek()
		switch {
		case c == '+':
			p.pos++
		case spaces > 0 && (isIdentStart(c) || c == '('):
			// Whitespace between two statements: an unencoded '+' that URL decoding turned into a space.
		default:
			p.pos = save
			if len(terms) == 1 {
				return first, nil
			}
			return &And{Terms: terms}, nil
		}
		t, err := p.parseUnary(depth)
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
	}
}

func (p *parser) parseUnary(depth int) (Expr, error) {
	p.skipSpace()
	if p.peek() == '(' {
		if depth >= maxDepth {
			return nil, p.errf("parentheses nested deeper than %d", maxDepth)
		}
		p.pos++
		e, err := p.parseOr(depth + 1)
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.peek() != ')' {
			if p.eof() {
				return nil, p.errf("missing ')'")
			}
			return nil, p.errf("expected ')', found %q", p.peek())
		}
		p.pos++
		return e, nil
	}
	return p.parseStatement()
}

func (p *parser) parseStatement() (Expr, error) {
	start := p.pos
	if p.eof() {
		return nil, p.errf("expected a property name, found end of filter")
	}
	if !isIdentStart(p.peek()) {
		return nil, p.errf("expected a property name, found %q", p.peek())
	}
	for !p.eof() && isIdent(p.s[p.pos]) {
		p.pos++
	}
	field := p.s[start:p.pos]
	p.skipSpace()
	if p.peek() != ':' {
		if p.eof() {
			return nil, p.errf("expected ':' after %q, found end of filter", field)
		}
		return nil, p.errf("expected ':' after %q, found %q", field, p.peek())
	}
	p.pos++
	p.props++
	if p.props > MaxProperties {
		return nil, &SyntaxError{Pos: start, Msg: fmt.Sprintf("too many properties: at most %d are allowed", MaxProperties)}
	}
	p.skipSpace()
	op := p.parseOp()
	p.skipSpace()
	v, err := p.parseValue(true)
	if err != nil {
		return nil, err
	}
	return &Statement{Field: field, Op: op, Value: v}, nil
}

func (p *parser) parseOp() Op {
	rest := p.s[p.pos:]
	for _, c := range [...]struct {
		text string
		op   Op
	}{{"!~", NotMatch}, {">=", Ge}, {"<=", Le}, {"!", Ne}, {">", Gt}, {"<", Lt}, {"~", Match}, {"*", Wildcard}} {
		if strings.HasPrefix(rest, c.text) {
			p.pos += len(c.text)
			return c.op
		}
	}
	return Eq
}

func (p *parser) parseValue(allowList bool) (Value, error) {
	c := p.peek()
	switch {
	case p.eof():
		return Value{}, p.errf("expected a value, found end of filter")
	case c == '\'':
		s, err := p.parseQuoted()
		return Value{Kind: String, Str: s}, err
	case c == '[':
		if !allowList {
			return Value{}, p.errf("lists cannot be nested")
		}
		return p.parseList()
	case c == '"':
		return Value{}, p.errf("strings take single quotes, not double quotes")
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.pos
		if c == '-' {
			p.pos++
		}
		for !p.eof() && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		if !p.eof() && isIdent(p.s[p.pos]) {
			return Value{}, p.errf("malformed number %q (quote strings and timestamps)", p.s[start:p.pos+1])
		}
		n, err := strconv.ParseInt(p.s[start:p.pos], 10, 64)
		if err != nil {
			return Value{}, &SyntaxError{Pos: start, Msg: fmt.Sprintf("invalid integer %q", p.s[start:p.pos])}
		}
		return Value{Kind: Int, Int: n}, nil
	case isIdentStart(c):
		start := p.pos
		for !p.eof() && isIdent(p.s[p.pos]) {
			p.pos++
		}
		switch word := p.s[start:p.pos]; word {
		case "null":
			return Value{Kind: Null}, nil
		case "true", "false":
			return Value{Kind: Bool, Bool: word == "true"}, nil
		default:
			return Value{}, &SyntaxError{Pos: start, Msg: fmt.Sprintf("unquoted value %q (strings take single quotes)", word)}
		}
	}
	return Value{}, p.errf("expected a value, found %q", c)
}

func (p *parser) parseQuoted() (string, error) {
	start := p.pos
	p.pos++ // opening quote
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.pos]
		switch c {
		case '\'':
			p.pos++
			return b.String(), nil
		case '\\':
			if p.pos+1 < len(p.s) && (p.s[p.pos+1] == '\'' || p.s[p.pos+1] == '\\') {
				b.WriteByte(p.s[p.pos+1])
				p.pos += 2
				continue
			}
		}
		b.WriteByte(c)
		p.pos++
	}
	return "", &SyntaxError{Pos: start, Msg: "unterminated string"}
}

func (p *parser) parseList() (Value, error) {
	start := p.pos
	p.pos++ // '['
	var elems []Value
	for {
		p.skipSpace()
		if p.peek() == ']' && len(elems) == 0 {
			return Value{}, p.errf("empty list")
		}
		v, err := p.parseValue(false)
		if err != nil {
			return Value{}, err
		}
		elems = append(elems, v)
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return Value{Kind: List, List: elems}, nil
		default:
			if p.eof() {
				return Value{}, &SyntaxError{Pos: start, Msg: "unterminated list"}
			}
			return Value{}, p.errf("expected ',' or ']' in list, found %q", p.peek())
		}
	}
}
