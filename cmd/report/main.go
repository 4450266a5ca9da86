// Command report runs tokentrail's token-usage, lifecycle and compliance
// reports (package queries) against the ClickHouse tables the sink writes,
// and renders them (package report).
//
//	report list
//	report run NAME [--since 30d|DATE] [--until DATE] [--param k=v ...] [--tenant T]
//	                [--format table|csv|json|markdown|html] [--section S] [--out FILE]
//	report pack [--format html|markdown|pdf] [--out FILE] [--since ...] [--until ...] [--param [report.]k=v ...]
//	            [--controls FILE] [--top N] [--all-tenants] [--chromium PATH]
//
// A pack written to --out FILE has one CSV per section in FILE-data/ beside
// it; --all-tenants writes FILE-TENANT packs and an overview in FILE.
//
// Exit codes: 0 success, 1 runtime failure (ClickHouse unreachable, a query
// failed, the output could not be written), 2 bad flags, an unknown report
// or parameter, or a bad value.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
	"golang.org/x/term"
)

// CLI is the root of the command line.
type CLI struct {
	ClickHouseFlags

	List ListCmd `cmd:"" help:"List the reports with their parameters."`
	Run  RunCmd  `cmd:"" help:"Run one report."`
	Pack PackCmd `cmd:"" help:"Write every report into one review document (HTML or Markdown)."`
}

// env is what commands need from outside: where to write, and the clock.
type env struct {
	stdout, stderr io.Writer
	now            func() time.Time
	// width is the terminal's when stdout is one (tables fit it), else 0.
	width int
}

// usageError marks an error as bad flags or parameters: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, time.Now)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, now func() time.Time) int {
	var cli CLI
	exitCode := -1
	parser, err := kong.New(&cli,
		kong.Name("report"),
		kong.Description("tokentrail: token-usage, lifecycle and compliance reports from ClickHouse."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exitCode = code }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		fmt.Fprintln(stderr, "report: internal error:", err)
		return 1
	}
	kctx, err := parser.Parse(args)
	if exitCode >= 0 { // --help
		return exitCode
	}
	if err != nil {
		fmt.Fprintln(stderr, "report:", oneLine(err))
		return 2
	}
	kctx.BindTo(ctx, (*context.Context)(nil))
	if err := kctx.Run(&cli.ClickHouseFlags, &env{stdout: stdout, stderr: stderr, now: now, width: terminalWidth(stdout)}); err != nil {
		fmt.Fprintln(stderr, "report:", oneLine(err))
		if errors.As(err, new(usageError)) {
			return 2
		}
		return 1
	}
	return 0
}

// oneLine joins a multi-line error into one line. Cutting it at the first
// line would lose what matters on a cluster: clickhouse-go's "All
// connection tries failed. Log:" is followed by one line per host tried,
// and a server's "There was an error on [host:port]" by the host's error.
func oneLine(err error) string {
	var parts []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " | ")
}

// terminalWidth is the width of the terminal w writes to: $COLUMNS, else
// the terminal's size; 0 when w is not a terminal.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if n, _, err := term.GetSize(int(f.Fd())); err == nil {
		return n
	}
	return 0
}
