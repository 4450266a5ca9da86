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
			def := p.Default
			if def == "" {
				def = `""`
			}
			fmt.Fprintf(w, "    %-8s %-8s default %-8s %s\n", p.Name, p.Type, def, p.Description)
		}
	}
	return w.Flush()
}
