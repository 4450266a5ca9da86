package main

// SinkCmd is the sink command. Owned by its component's engineer.
type SinkCmd struct{}

// Run implements the command.
func (c *SinkCmd) Run(g *Globals) error {
	return usagef("ingest sink: not yet available")
}
