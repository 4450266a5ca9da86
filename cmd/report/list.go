package main

import (
	"bufio"
	"fmt"

	"github.com/tokentrail/tokentrail/queries"
)

// ListCmd prints every report with its sections and parameters.
type ListCmd struct{}

// Run implements the command.
func (ListCmd) Run(e *env) error {
	w := bufio.NewWriter(e.stdout)
	// One set of column widths for every report, so that all rows align.
	var wName, wType, wDef int
	for _, r := range queries.All() {
		for _, p := range r.Params {
			wName, wType, wDef = max(wName, len(p.Name)), max(wType, len(p.Type)), max(wDef, len(listDefault(p)))
		}
	}
	for i, r := range queries.All() {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s: %s\n  %s\n  sections:", r.Name, r.Title, r.Description)
		for _, s := range r.Sections {
			fmt.Fprintf(w, " %s", s.Name)
		}
		fmt.Fprintln(w, "\n  parameters:")
		for _, p := range r.Params {
			fmt.Fprintf(w, "    %-*s %-*s default %-*s %s\n", wName, p.Name, wType, p.Type, wDef, listDefault(p), p.Description)
		}
	}
	return w.Flush()
}

func listDefault(p queries.Param) string {
	if p.Default == "" {
		return `""`
	}
	return p.Default
}
