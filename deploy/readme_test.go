package deploy

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/schema"
	"github.com/tokentrail/tokentrail/schema/schematest"
)

// The README is checked against the real binary like the deploy artifacts:
// its flag reference is generated from --help, and every flag, environment
// variable, command line and example record it shows must be real.

var update = flag.Bool("update", false, "rewrite README.md's generated flag reference from ingest --help")

const (
	refBegin = "<!-- BEGIN FLAG REFERENCE"
	refEnd   = "<!-- END FLAG REFERENCE -->"
	exBegin  = "<!-- BEGIN EXAMPLE RECORDS"
	exEnd    = "<!-- END EXAMPLE RECORDS -->"
)

// documentedCommands are the commands whose every flag the README documents.
var documentedCommands = []string{"collect", "sink", "migrate", "run", "demo"}

func readme(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// section returns the text between the line starting with begin and end,
// and the offsets of that text.
func section(t *testing.T, text, begin, end string) (string, int, int) {
	t.Helper()
	i := strings.Index(text, begin)
	if i < 0 {
		t.Fatalf("README.md: marker %q missing", begin)
	}
	i += strings.IndexByte(text[i:], '\n') + 1
	j := strings.Index(text[i:], end)
	if j < 0 {
		t.Fatalf("README.md: marker %q missing", end)
	}
	return text[i : i+j], i, i + j
}

var envAnnotationRE = regexp.MustCompile(`\s*\(\$[A-Z][A-Z0-9_]*(?:,\s*\$[A-Z][A-Z0-9_]*)*\)`)

// flagRow renders one flag as a table row: the flag as --help prints it,
// its environment variables and its help text.
func flagRow(f *flagInfo) string {
	name := "--" + f.Name
	if f.Negatable {
		name = "--[no-]" + f.Name
	}
	if f.Value != "" {
		name += "=" + f.Value
	}
	var envs []string
	for _, e := range f.Envs {
		envs = append(envs, "`"+e+"`")
	}
	text := strings.TrimSpace(envAnnotationRE.ReplaceAllString(f.Text, ""))
	text = strings.ReplaceAll(text, "|", `\|`)
	return fmt.Sprintf("| `%s` | %s | %s |\n", name, strings.Join(envs, " "), text)
}

func flagTable(b *strings.Builder, cmd *command, names []string) {
	b.WriteString("| Flag (default or value) | Environment | Description |\n|---|---|---|\n")
	for _, n := range names {
		b.WriteString(flagRow(cmd.Flags[n]))
	}
}

// flagReference renders the README's configuration reference: the global
// flags, then one table per set of commands sharing flags (the Kafka flags
// of collect, sink and run are listed once, not three times). Two flags
// are the same when name, value and help text all match.
func flagReference(t *testing.T, c *cli) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("\n| Command | What it does |\n|---|---|\n")
	for _, name := range c.Order {
		fmt.Fprintf(&b, "| `ingest %s` | %s |\n", name, description(c.Commands[name].Help))
	}
	b.WriteString("\n### Global flags (every command)\n\n")
	var globals []string
	for _, n := range c.Root.Order {
		if n != "help" {
			globals = append(globals, n)
		}
	}
	flagTable(&b, c.Root, globals)

	type entry struct {
		f    *flagInfo
		cmds []string
	}
	var keys []string
	entries := map[string]*entry{}
	for _, name := range documentedCommands {
		cmd := c.command(t, name)
		for _, n := range c.own(cmd) {
			f := cmd.Flags[n]
			k := f.Name + "\x00" + f.Value + "\x00" + f.Text
			if entries[k] == nil {
				entries[k] = &entry{f: f}
				keys = append(keys, k)
			}
			entries[k].cmds = append(entries[k].cmds, name)
		}
	}
	// A name with several meanings (--once of collect, sink and run) goes
	// into one table with a command column instead of one-row sections.
	meanings := map[string]int{}
	for _, k := range keys {
		meanings[entries[k].f.Name]++
	}
	var groups, varying []string
	members := map[string][]*flagInfo{}
	for _, k := range keys {
		if meanings[entries[k].f.Name] > 1 {
			varying = append(varying, k)
			continue
		}
		g := strings.Join(entries[k].cmds, ",")
		if members[g] == nil {
			groups = append(groups, g)
		}
		members[g] = append(members[g], entries[k].f)
	}
	for _, g := range groups {
		var names []string
		for _, n := range strings.Split(g, ",") {
			names = append(names, "`ingest "+n+"`")
		}
		fmt.Fprintf(&b, "\n### Flags of %s\n\n", joinAnd(names))
		b.WriteString("| Flag (default or value) | Environment | Description |\n|---|---|---|\n")
		for _, f := range members[g] {
			b.WriteString(flagRow(f))
		}
	}
	if len(varying) > 0 {
		sort.SliceStable(varying, func(i, j int) bool { return entries[varying[i]].f.Name < entries[varying[j]].f.Name })
		b.WriteString("\n### Flags whose meaning depends on the command\n\n")
		b.WriteString("| Command | Flag (default or value) | Environment | Description |\n|---|---|---|---|\n")
		for _, k := range varying {
			var names []string
			for _, n := range entries[k].cmds {
				names = append(names, "`ingest "+n+"`")
			}
			b.WriteString("| " + joinAnd(names) + " " + flagRow(entries[k].f))
		}
	}
	for _, name := range documentedCommands {
		if len(c.own(c.command(t, name))) == 0 {
			fmt.Fprintf(&b, "\n`ingest %s` has no flags besides the global ones.\n", name)
		}
	}
	b.WriteString("\n")
	return b.String()
}

func joinAnd(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// description is a command's help paragraph after the Usage line.
func description(help string) string {
	paras := strings.Split(help, "\n\n")
	if len(paras) < 2 || strings.HasPrefix(strings.TrimSpace(paras[1]), "Flags:") {
		return ""
	}
	return strings.Join(strings.Fields(paras[1]), " ")
}

func TestREADMEFlagReference(t *testing.T) {
	c := ingestCLI(t)
	text := readme(t)
	got, from, to := section(t, text, refBegin, refEnd)
	want := flagReference(t, c)
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(filepath.Join(repoRoot(), "README.md"), []byte(text[:from]+want+text[to:]), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("README.md flag reference rewritten")
		return
	}
	t.Errorf("README.md's flag reference differs from ingest --help; run\n\tgo test ./deploy -run TestREADMEFlagReference -update\n"+
		"and review the diff. Generated reference:\n%s", want)
}

// TestREADMEDocumentsEveryFlag is the plain form of the rule: every flag
// and environment variable of the documented commands appears in README.md.
func TestREADMEDocumentsEveryFlag(t *testing.T) {
	c := ingestCLI(t)
	text := readme(t)
	for _, name := range documentedCommands {
		cmd := c.command(t, name)
		for _, f := range cmd.Order {
			if f == "help" {
				continue
			}
			if !regexp.MustCompile(`--(\[no-\])?` + regexp.QuoteMeta(f) + `\b`).MatchString(text) {
				t.Errorf("README.md does not document --%s (ingest %s)", f, name)
			}
			for _, e := range cmd.Flags[f].Envs {
				if !strings.Contains(text, e) {
					t.Errorf("README.md does not mention %s (--%s of ingest %s)", e, f, name)
				}
			}
		}
	}
}

// TestREADMEUsesRealFlags checks the README's ingest command lines and its
// inline `--flag` mentions against the binary.
func TestREADMEUsesRealFlags(t *testing.T) {
	c := ingestCLI(t)
	text := readme(t)
	_, refFrom, refTo := section(t, text, refBegin, refEnd)
	prose := text[:refFrom] + text[refTo:]

	inCode := false
	for i, line := range strings.Split(prose, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inCode = !inCode
			continue
		}
		if !inCode {
			continue
		}
		cmdline, _, _ := strings.Cut(line, "#")
		cmdline = strings.TrimSuffix(strings.TrimSpace(cmdline), "&")
		words, err := shellWords(cmdline)
		if err != nil || len(words) == 0 || filepath.Base(words[0]) != "ingest" {
			continue
		}
		for _, p := range problemsOf(c.checkArgs(fmt.Sprintf("README.md code line %d", i+1), words[1:])) {
			t.Error(p)
		}
	}
	for _, m := range regexp.MustCompile("`--([a-z][a-z0-9-]*)").FindAllStringSubmatch(prose, -1) {
		if !c.anyFlag(m[1]) {
			t.Errorf("README.md mentions `--%s`, which no ingest command accepts", m[1])
		}
	}
}

func problemsOf(_ string, _ map[string]string, problems []string) []string { return problems }

// TestREADMEExampleRecords checks that the example records are valid
// against the JSON Schemas, decode with schema.Decode, and cover every type.
func TestREADMEExampleRecords(t *testing.T) {
	text, _, _ := section(t, readme(t), exBegin, exEnd)
	v, err := schematest.New()
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)\n```").FindAllStringSubmatch(text, -1)
	seen := map[string]bool{}
	for _, b := range blocks {
		rec := []byte(strings.TrimSpace(b[1]))
		if err := v.Validate(rec); err != nil {
			t.Errorf("README example %s: %v", rec, err)
		}
		r, err := schema.Decode(rec)
		if err != nil {
			t.Errorf("README example %s: schema.Decode: %v", rec, err)
			continue
		}
		seen[r.Type()] = true
	}
	for _, typ := range schema.RecordTypes() {
		if !seen[typ] {
			t.Errorf("README.md has no example %s record", typ)
		}
	}
}

// TestREADMETopicContract checks the topic table against package schema.
func TestREADMETopicContract(t *testing.T) {
	text := readme(t)
	for _, s := range []string{schema.TopicAuditEvents, schema.TopicTokens, schema.TopicSettings, schema.TopicCoverage, schema.TopicDLQ,
		schema.HeaderRecordType, schema.HeaderSchemaVersion, schema.HeaderDLQTopic, schema.HeaderDLQPartition,
		schema.HeaderDLQOffset, schema.HeaderDLQError} {
		if !strings.Contains(text, "`"+s+"`") {
			t.Errorf("README.md's topic contract does not name `%s`", s)
		}
	}
	for _, typ := range schema.RecordTypes() {
		if _, err := schema.JSONSchemas.ReadFile(schema.JSONSchemaFile(typ, schema.Version)); err != nil {
			t.Errorf("schema for %s: %v", typ, err)
		}
		if !strings.Contains(text, "(schema/"+schema.JSONSchemaFile(typ, schema.Version)+")") {
			t.Errorf("README.md does not link schema/%s", schema.JSONSchemaFile(typ, schema.Version))
		}
	}
}

// TestREADMEStructure checks the two commands at the top and the links.
func TestREADMEStructure(t *testing.T) {
	text := readme(t)
	first := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(text)
	if first == nil || !regexp.MustCompile(`(?m)^make demo\b`).MatchString(first[1]) || !regexp.MustCompile(`(?m)^make test\b`).MatchString(first[1]) {
		t.Errorf("README.md's first code block must be the two commands, make demo and make test; got %q", first)
	}
	checked := map[string]bool{}
	for _, m := range regexp.MustCompile(`\]\(([^)#:]+)(?:#[^)]*)?\)`).FindAllStringSubmatch(text, -1) {
		if checked[m[1]] {
			continue
		}
		checked[m[1]] = true
		if _, err := os.Stat(filepath.Join(repoRoot(), m[1])); err != nil {
			t.Errorf("README.md links %s: %v", m[1], err)
		}
	}
	for _, want := range []string{"Installation tokens: Read", "docs/design.md", "make bench", "docs/benchmarks.md"} {
		if !strings.Contains(text, want) {
			t.Errorf("README.md does not mention %q", want)
		}
	}
}

// TestDesignUsesRealFlags keeps docs/design.md honest about flag names.
func TestDesignUsesRealFlags(t *testing.T) {
	c := ingestCLI(t)
	data, err := os.ReadFile(filepath.Join(repoRoot(), "docs", "design.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("`--([a-z][a-z0-9-]*)").FindAllStringSubmatch(string(data), -1) {
		if !c.anyFlag(m[1]) {
			t.Errorf("docs/design.md mentions `--%s`, which no ingest command accepts", m[1])
		}
	}
}
