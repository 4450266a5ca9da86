package main

// DemoCmd is the demo command. Owned by its component's engineer.
type DemoCmd struct{}

// Run implements the command.
func (c *DemoCmd) Run(g *Globals) error {
	return usagef("ingest demo: not yet available")
}
