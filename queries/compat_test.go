package queries

import (
	"fmt"
	"strings"
	"testing"
)

// compatProblems lists where sql breaks a rule of docs/sql-compat.md that
// can be seen without running it: a joined subquery without an alias
// (ClickHouse 26.x refuses it), a JOIN or IN (SELECT ...) that is not
// GLOBAL (refused on a Distributed table over shards), round() (18.16 and
// 26.x round halves differently) and settings one of the versions rejects.
// The differential test (internal/difftest) runs the SQL on both versions;
// this check gives the same answer for these traps without chDB.
func compatProblems(sql string) []string {
	toks := codeTokens(sql)
	var out []string
	is := func(i int, words ...string) bool {
		if i < 0 || i >= len(toks) {
			return false
		}
		for _, w := range words {
			if strings.EqualFold(toks[i], w) {
				return true
			}
		}
		return false
	}
	for i, tok := range toks {
		switch {
		case is(i, "JOIN") && !is(i-1, "ARRAY"):
			j := i - 1
			for is(j, "LEFT", "RIGHT", "INNER", "FULL", "OUTER", "CROSS", "ANY", "ALL", "SEMI", "ANTI") {
				j--
			}
			if !is(j, "GLOBAL") {
				out = append(out, fmt.Sprintf("JOIN #%d is not GLOBAL", countBefore(toks, i, "JOIN")))
			} else {
				j--
			}
			if is(j, ")") {
				out = append(out, fmt.Sprintf("the subquery left of JOIN #%d has no alias", countBefore(toks, i, "JOIN")))
			}
			if is(i+1, "(") {
				if c := closing(toks, i+1); c < 0 || !is(c+1, "AS") {
					out = append(out, fmt.Sprintf("the subquery right of JOIN #%d has no alias", countBefore(toks, i, "JOIN")))
				}
			}
		case is(i, "IN") && is(i+1, "(") && is(i+2, "SELECT"):
			j := i - 1
			if is(j, "NOT") {
				j--
			}
			if !is(j, "GLOBAL") {
				out = append(out, "IN (SELECT ...) is not GLOBAL IN")
			}
		case is(i, "round") && is(i+1, "("):
			out = append(out, "round() rounds halves differently on 18.16 and 26.x: use floor(10 * x + 0.5) / 10")
		case strings.EqualFold(tok, "allow_experimental_low_cardinality_type") || strings.EqualFold(tok, "joined_subquery_requires_alias"):
			out = append(out, tok+" is a setting one of the ClickHouse versions rejects")
		}
	}
	return out
}

// codeTokens splits sql outside literals and comments into words and the
// punctuation ( and ).
func codeTokens(sql string) []string {
	var toks []string
	word := -1
	flush := func(end int) {
		if word >= 0 {
			toks = append(toks, sql[word:end])
			word = -1
		}
	}
	scanCode(sql, func(i int) int {
		c := sql[i]
		switch {
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			if word < 0 {
				word = i
			}
		default:
			flush(i)
			if c == '(' || c == ')' {
				toks = append(toks, string(c))
			}
		}
		return i
	})
	flush(len(sql))
	return toks
}

// closing returns the index of the ) matching the ( at open, or -1.
func closing(toks []string, open int) int {
	depth := 0
	for i := open; i < len(toks); i++ {
		switch toks[i] {
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

func countBefore(toks []string, i int, word string) int {
	n := 0
	for _, t := range toks[:i+1] {
		if strings.EqualFold(t, word) {
			n++
		}
	}
	return n
}

func TestSectionsKeepToTheCompatibleSQL(t *testing.T) {
	for _, r := range All() {
		for _, s := range r.Sections {
			for _, p := range compatProblems(s.SQL) {
				t.Errorf("report %s, section %s: %s (docs/sql-compat.md)", r.Name, s.Name, p)
			}
		}
	}
}

func TestCompatProblemsFindsTheTraps(t *testing.T) {
	for sql, want := range map[string]string{
		"SELECT 1 FROM (SELECT 1 AS k) AS a GLOBAL LEFT JOIN (SELECT 1 AS k) USING k": "right of JOIN #1 has no alias",
		"SELECT 1 FROM (SELECT 1 AS k) GLOBAL LEFT JOIN (SELECT 1 AS k) AS b USING k": "left of JOIN #1 has no alias",
		"SELECT 1 FROM (SELECT 1 AS k) AS a LEFT JOIN (SELECT 1 AS k) AS b USING k":   "JOIN #1 is not GLOBAL",
		"SELECT 1 FROM t WHERE id NOT IN (SELECT id FROM u)":                          "is not GLOBAL IN",
		"SELECT round(x / 60, 1) FROM t":                                              "round()",
		"SELECT 1 SETTINGS allow_experimental_low_cardinality_type = 1":               "setting one of the ClickHouse versions rejects",
	} {
		got := strings.Join(compatProblems(sql), "; ")
		if !strings.Contains(got, want) {
			t.Errorf("%s\n  => %q, want %q", sql, got, want)
		}
	}
	for _, ok := range []string{
		"SELECT 1 FROM (SELECT 1 AS k) AS a GLOBAL ANY LEFT JOIN (SELECT 1 AS k) AS b USING k",
		"SELECT x FROM t ARRAY JOIN arr AS x WHERE id GLOBAL NOT IN (SELECT id FROM u) AND s IN ('a', 'b')",
		"SELECT 'round(1) LEFT JOIN (' -- round(x) IN (SELECT\nFROM t",
		"SELECT floor(x * 10 + 0.5) / 10, roundDown(x, [1]) FROM t",
	} {
		if p := compatProblems(ok); len(p) > 0 {
			t.Errorf("%s\n  => %v, want none", ok, p)
		}
	}
}
