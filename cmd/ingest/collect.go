package main

// CollectCmd is the collect command. Owned by its component's engineer.
type CollectCmd struct{}

// Run implements the command.
func (c *CollectCmd) Run(g *Globals) error {
	return usagef("ingest collect: not yet available")
}
