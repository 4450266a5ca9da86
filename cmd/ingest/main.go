// Command ingest is tokentrail's long-running job: it collects Falcon
// installation-token data into Kafka (collect), writes Kafka into ClickHouse
// (sink), applies the ClickHouse schema (migrate), does both in one process
// (run), or runs the whole pipeline on embedded parts (demo).
//
// Exit codes: 0 success, 1 runtime failure, 2 bad flags or configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
)

// CLI is the root of the command line.
type CLI struct {
	Globals

	Collect CollectCmd `cmd:"" help:"Collect audit events, tokens and settings from Falcon into Kafka."`
	Sink    SinkCmd    `cmd:"" help:"Consume the tokentrail topics and write them to ClickHouse."`
	Migrate MigrateCmd `cmd:"" help:"Apply the ClickHouse schema and exit."`
	Run     RunCmd     `cmd:"" help:"Run collect and sink in one process."`
	Demo    DemoCmd    `cmd:"" help:"Run the whole pipeline on an emulated Falcon tenant and an embedded Kafka."`
	Version VersionCmd `cmd:"" help:"Print the version and exit."`
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// VersionCmd prints the version.
type VersionCmd struct{}

// Run implements the command.
func (VersionCmd) Run(g *Globals) error {
	fmt.Fprintln(g.stdout, "tokentrail ingest", version)
	return nil
}

// usageError marks an error as bad flags or configuration: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usage error (exit code 2).
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var cli CLI
	cli.Globals.stdout, cli.Globals.stderr = stdout, stderr
	exitCode := -1
	parser, err := newParser(&cli, stdout, stderr, func(code int) { exitCode = code })
	if err != nil {
		fmt.Fprintln(stderr, "ingest: internal error:", err)
		return 1
	}
	ctx, err := parser.Parse(args)
	if exitCode >= 0 { // --help
		return exitCode
	}
	if err != nil {
		fmt.Fprintln(stderr, "ingest:", oneLine(err))
		return 2
	}
	// SIGINT/SIGTERM cancel this context: commands stop polling and
	// retrying, flush what they can, commit and return within
	// --shutdown-timeout.
	sigCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case s := <-sigs:
			// After the first signal, a second one kills at once (the
			// default action) instead of waiting out the graceful stop.
			signal.Stop(sigs)
			cli.Globals.Logger().Warn("signal received: stopping; retries end now, what was fetched is flushed if possible (a second signal kills at once)",
				"signal", s.String(), "shutdown_timeout", cli.Globals.ShutdownTimeout.String())
			cancel()
		case <-sigCtx.Done():
		}
	}()
	ctx.BindTo(sigCtx, (*context.Context)(nil))
	if err := ctx.Run(&cli.Globals); err != nil {
		fmt.Fprintln(stderr, "ingest:", oneLine(err))
		if errors.As(err, new(usageError)) {
			return 2
		}
		return 1
	}
	return 0
}

// newParser is the command line's parser: flags, environment and the
// --config file.
func newParser(cli *CLI, stdout, stderr io.Writer, exit func(int)) (*kong.Kong, error) {
	return kong.New(cli,
		kong.Name("ingest"),
		kong.Description("tokentrail: export CrowdStrike Falcon installation-token data to Kafka and ClickHouse."),
		kong.Configuration(envFirstLoader),
		kong.Writers(stdout, stderr),
		kong.Exit(exit),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		defaultVars(),
	)
}

func oneLine(err error) string {
	s := err.Error()
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
