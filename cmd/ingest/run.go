package main

// RunCmd is the run command. Owned by its component's engineer.
type RunCmd struct{}

// Run implements the command.
func (c *RunCmd) Run(g *Globals) error {
	return usagef("ingest run: not yet available")
}
