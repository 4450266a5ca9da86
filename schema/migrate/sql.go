package migrate

import (
	"fmt"
	"strings"
)

// splitStatements cuts a migration file at the semicolons that are outside
// string literals, quoted identifiers and comments. Comments before a
// statement are dropped; those inside it are kept.
func splitStatements(src string) ([]string, error) {
	toks, err := tokenize(src)
	if err != nil {
		return nil, err
	}
	var out []string
	start := -1 // offset of the current statement's first token
	for _, t := range toks {
		if t.kind == tokPunct && t.text == ";" {
			if start >= 0 {
				out = append(out, strings.TrimSpace(src[start:t.start]))
			}
			start = -1
			continue
		}
		if start < 0 {
			start = t.start
		}
	}
	if start >= 0 {
		out = append(out, strings.TrimSpace(src[start:]))
	}
	return out, nil
}

type tokKind int

const (
	tokWord   tokKind = iota // keyword or bare identifier
	tokQuoted                // `identifier` or "identifier"
	tokString                // 'literal'
	tokNumber
	tokPunct
)

type token struct {
	kind       tokKind
	text       string // as written (quotes included)
	start, end int    // byte offsets in the statement
}

// is reports whether t is the keyword kw (case-insensitive).
func (t token) is(kw string) bool { return t.kind == tokWord && strings.EqualFold(t.text, kw) }

// ident returns the identifier t names, unquoted.
func (t token) ident() (string, bool) {
	switch t.kind {
	case tokWord:
		return t.text, true
	case tokQuoted:
		return unquote(t.text[1:len(t.text)-1], t.text[0]), true
	}
	return "", false
}

func unquote(s string, q byte) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		} else if s[i] == q && i+1 < len(s) && s[i+1] == q {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// tokenize splits SQL into tokens, skipping white space and comments.
func tokenize(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated /* comment at byte %d", i)
			}
			i += end + 4
		case c == '\'' || c == '`' || c == '"':
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '\\' {
					j++
					continue
				}
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c { // doubled quote
						j++
						continue
					}
					break
				}
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated %c quote at byte %d", c, i)
			}
			kind := tokQuoted
			if c == '\'' {
				kind = tokString
			}
			toks = append(toks, token{kind, s[i : j+1], i, j + 1})
			i = j + 1
		case isWordByte(c) && !isDigit(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			toks = append(toks, token{tokWord, s[i:j], i, j})
			i = j
		case isDigit(c):
			j := i
			for j < len(s) && (isWordByte(s[j]) || s[j] == '.') {
				j++
			}
			toks = append(toks, token{tokNumber, s[i:j], i, j})
			i = j
		default:
			toks = append(toks, token{tokPunct, s[i : i+1], i, i + 1})
			i++
		}
	}
	return toks, nil
}

func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isWordByte(c byte) bool { return c == '_' || isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'z' }

// matchClose returns the index of the token closing the parenthesis at
// toks[open], or -1.
func matchClose(toks []token, open int) int {
	depth := 0
	for i := open; i < len(toks); i++ {
		if toks[i].kind != tokPunct {
			continue
		}
		switch toks[i].text {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// topLevel returns the index of the first token at or after from that is
// at parenthesis depth 0 and satisfies pred, or -1.
func topLevel(toks []token, from int, pred func(token) bool) int {
	depth := 0
	for i := from; i < len(toks); i++ {
		t := toks[i]
		if t.kind == tokPunct && t.text == "(" {
			depth++
		} else if t.kind == tokPunct && t.text == ")" {
			depth--
		} else if depth == 0 && pred(t) {
			return i
		}
	}
	return -1
}

// keywords reports whether toks[i:] starts with the keywords kws.
func keywords(toks []token, i int, kws ...string) bool {
	if i+len(kws) > len(toks) {
		return false
	}
	for j, kw := range kws {
		if !toks[i+j].is(kw) {
			return false
		}
	}
	return true
}
