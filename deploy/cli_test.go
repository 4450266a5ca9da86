package deploy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The real command line, read from the built binary's --help output: the
// artifacts are checked against what `ingest` accepts today, never against
// a list copied into this test.

// flagInfo is one flag as `ingest <command> --help` prints it.
type flagInfo struct {
	Name      string
	Value     string // placeholder or default after "=", "" for a boolean
	Negatable bool   // printed as --[no-]name
	Envs      []string
	Text      string // the help text, continuation lines joined
}

// takesValue reports whether the flag consumes an argument.
func (f *flagInfo) takesValue() bool { return f.Value != "" }

// command is one (sub)command and every flag it accepts, globals included.
type command struct {
	Name  string
	Flags map[string]*flagInfo
	Order []string // flag names in help order
	Help  string
}

// cli is the whole command line of the binary.
type cli struct {
	Bin      string
	Root     *command
	Commands map[string]*command // by name, e.g. "collect"
	Order    []string            // command names in help order
	// Envs are the environment variables annotated as ($NAME) on flags.
	Envs map[string]bool
	// Mentioned are environment-variable-like names anywhere in the help
	// text, e.g. "(or set KAFKA_SASL_PASSWORD)" for secrets read directly.
	Mentioned map[string]bool
}

var (
	flagLineRE  = regexp.MustCompile(`^ {1,8}(?:-\w,\s+)?--(\[no-\])?([a-z0-9][a-z0-9-]*)(?:=("[^"]*"|\S+))?(?:\s+(.*))?$`)
	envAnnotRE  = regexp.MustCompile(`\$([A-Z][A-Z0-9_]*)`)
	envLikeRE   = regexp.MustCompile(`\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b`)
	commandRE   = regexp.MustCompile(`^  (\S+(?: \S+)*?)(?:\s{2,}.*)?$`)
	sectionRE   = regexp.MustCompile(`^\S.*:$`)
	testTempDir string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tokentrail-deploy-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testTempDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// parseHelp parses kong's help output into a command.
func parseHelp(name, text string) (*command, []string) {
	c := &command{Name: name, Flags: map[string]*flagInfo{}, Help: text}
	var subs []string
	var cur *flagInfo
	section := ""
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			cur = nil
			continue
		}
		if sectionRE.MatchString(line) {
			section, cur = strings.TrimSuffix(line, ":"), nil
			continue
		}
		if section == "Commands" {
			if m := commandRE.FindStringSubmatch(line); m != nil && !strings.HasPrefix(line, "   ") {
				subs = append(subs, m[1])
			}
			continue
		}
		if m := flagLineRE.FindStringSubmatch(line); m != nil {
			cur = &flagInfo{Name: m[2], Negatable: m[1] != "", Value: m[3], Text: m[4]}
			c.Flags[cur.Name] = cur
			c.Order = append(c.Order, cur.Name)
			continue
		}
		if cur != nil && strings.HasPrefix(line, " ") {
			cur.Text += " " + strings.TrimSpace(line)
			continue
		}
		cur = nil
	}
	for _, f := range c.Flags {
		for _, m := range envAnnotRE.FindAllStringSubmatch(f.Text, -1) {
			f.Envs = append(f.Envs, m[1])
		}
	}
	return c, subs
}

var (
	cliOnce sync.Once
	cliVal  *cli
	cliErr  error
)

// ingestCLI builds ./cmd/ingest once per test binary and reads its help.
func ingestCLI(t *testing.T) *cli {
	t.Helper()
	cliOnce.Do(func() { cliVal, cliErr = loadCLI() })
	if cliErr != nil {
		t.Fatalf("reading the real command line: %v", cliErr)
	}
	return cliVal
}

func loadCLI() (*cli, error) {
	bin := filepath.Join(testTempDir, "ingest")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ingest")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/ingest: %v\n%s", err, out)
	}
	help := func(args ...string) (string, error) {
		var out bytes.Buffer
		cmd := exec.Command(bin, append(args, "--help")...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("ingest %s --help: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		return out.String(), nil
	}
	text, err := help()
	if err != nil {
		return nil, err
	}
	root, subs := parseHelp("", text)
	c := &cli{Bin: bin, Root: root, Commands: map[string]*command{}, Envs: map[string]bool{}, Mentioned: map[string]bool{}}
	all := []*command{root}
	for _, s := range subs {
		text, err := help(strings.Fields(s)...)
		if err != nil {
			return nil, err
		}
		cmd, _ := parseHelp(s, text)
		c.Commands[s] = cmd
		c.Order = append(c.Order, s)
		all = append(all, cmd)
	}
	for _, cmd := range all {
		for _, f := range cmd.Flags {
			for _, e := range f.Envs {
				c.Envs[e] = true
			}
		}
		for _, e := range envLikeRE.FindAllString(cmd.Help, -1) {
			c.Mentioned[e] = true
		}
	}
	return c, nil
}

// command returns a subcommand or fails the test.
func (c *cli) command(t *testing.T, name string) *command {
	t.Helper()
	cmd, ok := c.Commands[name]
	if !ok {
		t.Fatalf("ingest has no command %q (commands: %v)", name, c.commandNames())
	}
	return cmd
}

func (c *cli) commandNames() []string {
	var names []string
	for n := range c.Commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// own returns the flags of cmd that are not global flags, in help order.
func (c *cli) own(cmd *command) []string {
	var names []string
	for _, n := range cmd.Order {
		if _, global := c.Root.Flags[n]; !global {
			names = append(names, n)
		}
	}
	return names
}

// readsEnv reports whether the binary reads the environment variable name:
// annotated on a flag, or named in help text ("or set X").
func (c *cli) readsEnv(name string) bool { return c.Envs[name] || c.Mentioned[name] }

// checkArgs checks an argument list such as ["collect", "--poll-interval",
// "1m"] against the real command line. It returns the command name, the flags
// used with their values, and every problem found, each prefixed with where.
func (c *cli) checkArgs(where string, args []string) (string, map[string]string, []string) {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, where+": "+fmt.Sprintf(format, a...)) }
	if len(args) == 0 {
		bad("no command given")
		return "", nil, problems
	}
	cmd, ok := c.Commands[args[0]]
	if !ok {
		bad("%q is not an ingest command (commands: %v)", args[0], c.commandNames())
		return "", nil, problems
	}
	used := map[string]string{}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			bad("unexpected positional argument %q (ingest %s takes none)", a, cmd.Name)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		f, ok := cmd.Flags[name]
		if !ok && strings.HasPrefix(name, "no-") {
			if g, neg := cmd.Flags[strings.TrimPrefix(name, "no-")]; neg && g.Negatable {
				f, ok = g, true
			}
		}
		if !ok {
			bad("ingest %s does not accept --%s", cmd.Name, name)
			continue
		}
		if f.takesValue() && !hasValue {
			if i+1 >= len(args) {
				bad("--%s needs a value", name)
				continue
			}
			i++
			value = args[i]
		}
		if !f.takesValue() && hasValue && value != "true" && value != "false" {
			bad("--%s is a boolean, given %q", name, value)
		}
		used[name] = value
	}
	return cmd.Name, used, problems
}

func repoRoot() string { return ".." }

// TestHelpParser pins the parser on kong's compact help format, so that a
// parser bug cannot make the artifact checks pass vacuously.
func TestHelpParser(t *testing.T) {
	text := `Usage: ingest sink [flags]

Consume the tokentrail topics and write them to ClickHouse.

Flags:
  -h, --help                      Show context-sensitive help.
      --log-format="text"         Log format: json or text
                                  ($TOKENTRAIL_LOG_FORMAT).
      --clickhouse-dsn=DSN        ClickHouse DSN (or set CLICKHOUSE_PASSWORD
                                  for the password) ($CLICKHOUSE_DSN, $CH_DSN).
      --[no-]migrate              Apply migrations first.
      --once                      Exit when caught up.
      --a-very-long-flag-name-that-pushes-the-help=DURATION
                                  Wrapped help ($LONG_ENV).
      --backoff-base=2s           First backoff; doubles up to
                                  --backoff-max ($BACKOFF_BASE).

Commands:
  collect    Collect audit events.
  demo       Run the whole pipeline on an emulated Falcon tenant and an embedded
             Kafka.
  report token-usage    Nested.
`
	c, subs := parseHelp("sink", text)
	want := map[string]string{"help": "", "log-format": `"text"`, "clickhouse-dsn": "DSN", "migrate": "", "once": "",
		"a-very-long-flag-name-that-pushes-the-help": "DURATION", "backoff-base": "2s"}
	if len(c.Flags) != len(want) {
		t.Errorf("parsed %d flags, want %d: %v", len(c.Flags), len(want), c.Flags)
	}
	for n, v := range want {
		f, ok := c.Flags[n]
		if !ok {
			t.Errorf("flag %s not parsed", n)
			continue
		}
		if f.Value != v {
			t.Errorf("flag %s value = %q, want %q", n, f.Value, v)
		}
	}
	if f := c.Flags["clickhouse-dsn"]; f == nil || strings.Join(f.Envs, ",") != "CLICKHOUSE_DSN,CH_DSN" {
		t.Errorf("clickhouse-dsn envs = %v", f)
	}
	if f := c.Flags["a-very-long-flag-name-that-pushes-the-help"]; f == nil || strings.Join(f.Envs, ",") != "LONG_ENV" {
		t.Errorf("wrapped flag envs = %v", f)
	}
	if f := c.Flags["backoff-base"]; f == nil || strings.Join(f.Envs, ",") != "BACKOFF_BASE" || !strings.Contains(f.Text, "--backoff-max") {
		t.Errorf("a continuation line starting with --: %+v", f)
	}
	if f := c.Flags["migrate"]; f == nil || !f.Negatable || f.takesValue() {
		t.Errorf("migrate = %+v, want negatable boolean", f)
	}
	if got := strings.Join(subs, ","); got != "collect,demo,report token-usage" {
		t.Errorf("commands = %q", got)
	}
	if got := envLikeRE.FindAllString(text, -1); !contains(got, "CLICKHOUSE_PASSWORD") {
		t.Errorf("mentioned env names %v miss CLICKHOUSE_PASSWORD", got)
	}

	// checkArgs on the parsed command.
	fake := &cli{Root: &command{Flags: map[string]*flagInfo{}}, Commands: map[string]*command{"sink": c}}
	name, used, problems := fake.checkArgs("x", []string{"sink", "--clickhouse-dsn", "clickhouse://h:9000/db",
		"--once", "--no-migrate", "--log-format=json"})
	if name != "sink" || len(problems) != 0 || used["clickhouse-dsn"] != "clickhouse://h:9000/db" || used["log-format"] != "json" {
		t.Errorf("valid args: %q %v %v", name, used, problems)
	}
	for _, args := range [][]string{
		{},
		{"collectt"},
		{"sink", "--nope"},
		{"sink", "--once", "stray"},
		{"sink", "--clickhouse-dsn"},
		{"sink", "--once=yes"},
		{"sink", "--no-once"},
	} {
		if _, _, problems := fake.checkArgs("x", args); len(problems) == 0 {
			t.Errorf("checkArgs(%q) found no problem", args)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
