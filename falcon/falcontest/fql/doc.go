// Package fql parses and evaluates the Falcon Query Language subset used by the Installation Tokens API's
// filter and sort parameters, as the emulator in package falcontest needs it.
//
// Grammar (see /work/shared/falcon-api.md §5):
//
//	filter    = or
//	or        = and { "," and }
//	and       = unary { ("+" | whitespace) unary }   // '+' binds tighter than ','
//	unary     = "(" or ")" | statement
//	statement = property ":" [ "!" | ">" | ">=" | "<" | "<=" | "~" | "!~" | "*" ] value
//	value     = 'quoted' | integer | true | false | null | "[" scalar { "," scalar } "]"
//
// Inside quotes \' is a quote and \\ a backslash. A filter holds at most MaxProperties statements.
//
// Parse builds an Expr without knowing any field; Compile checks it against a Schema (unknown properties,
// value types, timestamp literals) and returns a Filter evaluated against a Record accessor. Filter.Split
// extracts the time range a sorted store can binary-search. ParseSort reads the sort parameter.
//
// Malformed input is reported as *SyntaxError or *CompileError; nothing in this package panics on input.
package fql
