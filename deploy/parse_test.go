package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Parsers for the artifact formats: YAML (every document of every file),
// shell words, Makefile rules, Dockerfiles and systemd units.

// yamlDoc is one document of one file.
type yamlDoc struct {
	File  string
	Index int
	Value map[string]any
}

// yamlFiles returns every .yml/.yaml file under dir.
func yamlFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".yml" || ext == ".yaml") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// decodeYAML decodes every document of a YAML stream.
func decodeYAML(name string, data []byte) ([]yamlDoc, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []yamlDoc
	for i := 0; ; i++ {
		var v map[string]any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i+1, err)
		}
		if v != nil {
			docs = append(docs, yamlDoc{File: name, Index: i, Value: v})
		}
	}
	return docs, nil
}

func readYAML(t *testing.T, path string) []yamlDoc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := decodeYAML(path, data)
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// Accessors for decoded YAML; a missing or mistyped path gives the zero value.

func get(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func str(v any, path ...string) string {
	switch x := get(v, path...).(type) {
	case string:
		return x
	case int, bool, float64:
		return fmt.Sprint(x)
	}
	return ""
}

func list(v any, path ...string) []any {
	l, _ := get(v, path...).([]any)
	return l
}

func mapping(v any, path ...string) map[string]any {
	m, _ := get(v, path...).(map[string]any)
	return m
}

func toStrings(l []any) []string {
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// shellWords splits a command line as a POSIX shell would, without
// expansions: quotes group, backslashes escape, and unquoted &&, || and ;
// become tokens of their own.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			if s[i] != '\n' {
				cur.WriteByte(s[i])
				inWord = true
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated \" in %q", s)
			}
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			flush()
		case c == ';':
			flush()
			words = append(words, ";")
		case (c == '&' || c == '|') && i+1 < len(s) && s[i+1] == c:
			flush()
			words = append(words, string([]byte{c, c}))
			i++
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words, nil
}

// commands splits shell words into simple commands at &&, || and ;.
func commands(words []string) [][]string {
	var out [][]string
	var cur []string
	for _, w := range words {
		if w == "&&" || w == "||" || w == ";" {
			out = append(out, cur)
			cur = nil
			continue
		}
		cur = append(cur, w)
	}
	return append(out, cur)
}

// goBuild is one `go build` invocation, normalised for comparison.
type goBuild struct {
	Env      map[string]string
	Flags    []string // in order, -o excluded, values normalised
	Output   string
	Packages []string
}

var (
	versionRefRE = regexp.MustCompile(`\$\(shell [^)]*\)|\$\{?[A-Z_]+\}?`)
	spacesRE     = regexp.MustCompile(`\s+`)
)

// normaliseLDFlags replaces the version (a $(shell git describe) in the
// Makefile, a build argument in the Dockerfile) with VERSION.
func normaliseLDFlags(v string) string {
	return strings.TrimSpace(spacesRE.ReplaceAllString(versionRefRE.ReplaceAllString(v, "VERSION"), " "))
}

// parseGoBuild finds `[VAR=value ...] go build ...` in a simple command.
func parseGoBuild(cmd []string) (*goBuild, bool) {
	b := &goBuild{Env: map[string]string{}}
	i := 0
	for ; i < len(cmd); i++ {
		k, v, ok := strings.Cut(cmd[i], "=")
		if !ok || strings.HasPrefix(k, "-") || k != strings.ToUpper(k) {
			break
		}
		b.Env[k] = v
	}
	if i+1 >= len(cmd) || filepath.Base(cmd[i]) != "go" || cmd[i+1] != "build" {
		return nil, false
	}
	valued := map[string]bool{"-o": true, "-ldflags": true, "-gcflags": true, "-tags": true, "-mod": true, "-p": true,
		"-asmflags": true, "-buildmode": true, "-modfile": true, "-overlay": true, "-pgo": true}
	for i += 2; i < len(cmd); i++ {
		a := cmd[i]
		if !strings.HasPrefix(a, "-") {
			b.Packages = append(b.Packages, a)
			continue
		}
		name, value, has := strings.Cut(strings.TrimPrefix(a, "-"), "=")
		name = "-" + strings.TrimPrefix(name, "-")
		if valued[name] && !has && i+1 < len(cmd) {
			i++
			value, has = cmd[i], true
		}
		switch {
		case name == "-o":
			b.Output = value
		case name == "-ldflags":
			b.Flags = append(b.Flags, name+"="+normaliseLDFlags(value))
		case has:
			b.Flags = append(b.Flags, name+"="+value)
		default:
			b.Flags = append(b.Flags, name)
		}
	}
	return b, true
}

// makefile is the part of a Makefile the tests read.
type makefile struct {
	Vars    map[string]string
	Recipes map[string][]string // target -> recipe lines
}

func parseMakefile(data string) makefile {
	m := makefile{Vars: map[string]string{}, Recipes: map[string][]string{}}
	varRE := regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s*(?:\?=|:=|=)\s*(.*)$`)
	ruleRE := regexp.MustCompile(`^([A-Za-z0-9_.-]+)\s*:(?:[^=]|$)`)
	target := ""
	for _, line := range strings.Split(data, "\n") {
		switch {
		case strings.HasPrefix(line, "\t"):
			if target != "" {
				m.Recipes[target] = append(m.Recipes[target], strings.TrimPrefix(line, "\t"))
			}
		case varRE.MatchString(line):
			g := varRE.FindStringSubmatch(line)
			m.Vars[g[1]] = g[2]
			target = ""
		case ruleRE.MatchString(line):
			target = ruleRE.FindStringSubmatch(line)[1]
		default:
			target = ""
		}
	}
	return m
}

// expand replaces $(VAR) with the Makefile's values, leaving $(shell ...)
// and unknown references alone.
func (m makefile) expand(s string) string {
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	for i := 0; i < 10; i++ {
		next := ref.ReplaceAllStringFunc(s, func(r string) string {
			if v, ok := m.Vars[ref.FindStringSubmatch(r)[1]]; ok {
				return v
			}
			return r
		})
		if next == s {
			break
		}
		s = next
	}
	return strings.ReplaceAll(s, "$$", "$")
}

// dockerInstr is one Dockerfile instruction.
type dockerInstr struct {
	Cmd  string // upper case
	Args string
}

// dockerStage is one FROM ... stage.
type dockerStage struct {
	From   string // image, build arguments substituted
	Name   string
	Instrs []dockerInstr
}

func parseDockerfile(data string) []*dockerStage {
	var lines []string
	var cur strings.Builder
	for _, l := range strings.Split(data, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "#") || (t == "" && cur.Len() > 0) {
			continue // comments, also inside continued instructions
		}
		if strings.HasSuffix(t, "\\") {
			cur.WriteString(strings.TrimSuffix(t, "\\") + " ")
			continue
		}
		cur.WriteString(t)
		if s := strings.TrimSpace(cur.String()); s != "" {
			lines = append(lines, s)
		}
		cur.Reset()
	}
	args := map[string]string{} // ARGs declared before the first FROM
	var stages []*dockerStage
	for _, l := range lines {
		cmd, rest, _ := strings.Cut(l, " ")
		cmd, rest = strings.ToUpper(cmd), strings.TrimSpace(rest)
		switch {
		case cmd == "ARG" && len(stages) == 0:
			k, v, _ := strings.Cut(rest, "=")
			args[k] = v
		case cmd == "FROM":
			f := strings.Fields(rest)
			st := &dockerStage{}
			for _, w := range f {
				if !strings.HasPrefix(w, "--") {
					st.From = os.Expand(w, func(k string) string { return args[k] })
					break
				}
			}
			if len(f) >= 3 && strings.EqualFold(f[len(f)-2], "AS") {
				st.Name = f[len(f)-1]
			}
			stages = append(stages, st)
		case len(stages) > 0:
			st := stages[len(stages)-1]
			st.Instrs = append(st.Instrs, dockerInstr{Cmd: cmd, Args: rest})
		}
	}
	return stages
}

// runCommand returns a RUN instruction's shell command without its
// --mount/--network options.
func runCommand(args string) string {
	for strings.HasPrefix(args, "--") {
		_, rest, _ := strings.Cut(args, " ")
		args = strings.TrimSpace(rest)
	}
	return args
}

// unit is a parsed systemd unit file: section -> key -> values in order.
type unit map[string]map[string][]string

func parseUnit(data string) (unit, error) {
	u := unit{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(data))
	var pending string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if pending != "" {
			line = pending + " " + line
			pending = ""
		}
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			pending = strings.TrimSuffix(line, "\\")
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.Trim(line, "[]")
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			return nil, fmt.Errorf("line %q: not key=value inside a section", line)
		}
		u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
	}
	if pending != "" {
		return nil, fmt.Errorf("file ends inside a continued line")
	}
	return u, sc.Err()
}

// last returns the effective value of a unit setting ("" if unset).
func (u unit) last(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func TestParsers(t *testing.T) {
	w, err := shellWords(`mkdir -p /out && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ ./cmd/...; echo 'a b'\ c`)
	if err != nil {
		t.Fatal(err)
	}
	cmds := commands(w)
	if len(cmds) != 3 || strings.Join(cmds[2], "|") != "echo|a b c" {
		t.Fatalf("commands = %q", cmds)
	}
	b, ok := parseGoBuild(cmds[1])
	if !ok || b.Env["CGO_ENABLED"] != "0" || b.Output != "/out/" || strings.Join(b.Packages, " ") != "./cmd/..." ||
		strings.Join(b.Flags, " ") != "-trimpath -ldflags=-s -w -X main.version=VERSION" {
		t.Fatalf("parseGoBuild = %+v", b)
	}
	if _, ok := parseGoBuild(cmds[0]); ok {
		t.Error("mkdir parsed as go build")
	}

	m := parseMakefile("GO ?= go\nL ?= -s -X v=$(shell git describe || echo dev)\n\nbuild: deps\n\tX=1 $(GO) build -ldflags '$(L)' ./...\n\ntest:\n\t$(GO) test\n")
	if got := m.expand(m.Recipes["build"][0]); got != "X=1 go build -ldflags '-s -X v=$(shell git describe || echo dev)' ./..." {
		t.Errorf("make expand = %q", got)
	}

	st := parseDockerfile("ARG V=1.2\nFROM golang:${V} AS build\n# c\nRUN --mount=type=cache,target=/x \\\n    # inner comment\n    go build \\\n    ./...\nFROM scratch\nUSER 1:1\n")
	if len(st) != 2 || st[0].From != "golang:1.2" || st[0].Name != "build" || strings.Join(strings.Fields(runCommand(st[0].Instrs[0].Args)), " ") != "go build ./..." ||
		st[1].Instrs[0].Args != "1:1" {
		t.Errorf("parseDockerfile = %+v %+v", st[0], st[1])
	}

	u, err := parseUnit("[Service]\nExecStart=/bin/x a \\\n  --b=c\nA=1\nA=2\n")
	if err != nil || u.last("Service", "ExecStart") != "/bin/x a  --b=c" || u.last("Service", "A") != "2" {
		t.Errorf("parseUnit = %v, %v", u, err)
	}
	if _, err := parseUnit("[Service]\nExecStart=/bin/x \\\n"); err == nil {
		t.Error("unterminated continuation accepted")
	}

	if _, err := decodeYAML("x", []byte("a: 1\n---\nb: [\n")); err == nil {
		t.Error("broken second YAML document accepted")
	}
}
