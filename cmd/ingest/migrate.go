package main

// MigrateCmd is the migrate command. Owned by its component's engineer.
type MigrateCmd struct{}

// Run implements the command.
func (c *MigrateCmd) Run(g *Globals) error {
	return usagef("ingest migrate: not yet available")
}
