package falcon

import (
	"strings"
	"time"
)

// FQLString quotes v as an FQL string literal, escaping ' as \' (contract
// §5). A backslash is escaped as \\ too, so that a value ending in one cannot
// escape the closing quote (the emulator reads both escapes). Use it for every
// user-supplied value: 'O'Brien' would end the literal early.
func FQLString(v string) string {
	return "'" + fqlEscaper.Replace(v) + "'"
}

var fqlEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

// FQLTime renders t as a quoted UTC RFC 3339 literal with whole seconds
// (the form the API documents), e.g. '2025-03-01T00:00:00Z'. The
// fraction is dropped, so use >= with it and de-duplicate by ID.
func FQLTime(t time.Time) string {
	return "'" + t.UTC().Format("2006-01-02T15:04:05Z") + "'"
}

// FQLList renders values as an FQL list of quoted strings, ['a','b'].
func FQLList(values ...string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = FQLString(v)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// FQLAnd joins statements with + (AND), skipping empty ones. The client
// never mixes + and , in one filter, whose precedence is unconfirmed.
func FQLAnd(statements ...string) string {
	var parts []string
	for _, s := range statements {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "+")
}
