package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/alecthomas/kong"
	kongyaml "github.com/alecthomas/kong-yaml"
	"gopkg.in/yaml.v3"
)

// envFirstLoader reads a YAML config file whose keys are flag names. A value
// from the file applies only when the flag's environment variable is unset,
// which gives the documented precedence: flag > env > file. Unknown keys are
// an error (exit 2) with a "did you mean" for near misses: a misspelt
// setting must not silently run with the default.
func envFirstLoader(r io.Reader) (kong.Resolver, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, usagef("--config: %v", err)
	}
	inner, err := kongyaml.Loader(bytes.NewReader(data))
	if err != nil {
		return nil, usagef("--config: %v", err)
	}
	var flat map[string]any
	if err := yaml.Unmarshal(data, &flat); err != nil {
		return nil, usagef("--config: %v", err)
	}
	return envFirst{inner, flat}, nil
}

// envFirst resolves a flag from the file when its environment variable is
// unset: first under its command's section (collect: {poll-interval: 1m}),
// then by its plain name at the top level, so one flat file serves every
// command. The demo's flags are read from its section only: a production
// file's clickhouse-dsn or state-dir must never reach the demo, which
// resets what it points at.
type envFirst struct {
	kong.Resolver
	flat map[string]any
}

// sectionOnly are the commands whose flags ignore top-level keys.
var sectionOnly = map[string]bool{"demo": true}

// tenantSections are the command sections that, like the top level, may hold
// a tenants list; see readTenantList.
var tenantSections = map[string]bool{"collect": true, "run": true}

func (e envFirst) Resolve(ctx *kong.Context, parent *kong.Path, flag *kong.Flag) (any, error) {
	for _, env := range flag.Envs {
		if _, ok := os.LookupEnv(env); ok {
			return nil, nil
		}
	}
	if n := parent.Node(); n != nil && n.Type == kong.CommandNode && sectionOnly[n.Name] {
		if sec, ok := e.flat[n.Name].(map[string]any); ok {
			return sec[flag.Name], nil
		}
		return nil, nil
	}
	v, err := e.Resolver.Resolve(ctx, parent, flag)
	if v != nil || err != nil {
		return v, err
	}
	if v, ok := e.flat[flag.Name]; ok {
		if _, section := v.(map[string]any); !section {
			return v, nil
		}
	}
	return nil, nil
}

// Validate rejects keys that no command reads.
func (e envFirst) Validate(app *kong.Application) error {
	top := map[string]bool{"tenants": true}
	sections := map[string]map[string]bool{}
	for _, f := range app.Flags {
		top[f.Name] = true
	}
	for _, cmd := range app.Children {
		if cmd.Type != kong.CommandNode {
			continue
		}
		keys := map[string]bool{}
		if tenantSections[cmd.Name] {
			keys["tenants"] = true
		}
		for _, f := range cmd.Flags {
			keys[f.Name] = true
			if !sectionOnly[cmd.Name] {
				top[f.Name] = true
			}
		}
		sections[cmd.Name] = keys
	}
	for _, name := range sortedKeys(e.flat) {
		v := e.flat[name]
		if keys, ok := sections[name]; ok {
			sub, ok := v.(map[string]any)
			if !ok {
				return usagef("--config: %s: want a section of %s's flags, not a value", name, name)
			}
			for _, k := range sortedKeys(sub) {
				if !keys[k] {
					return usagef("--config: unknown key %s.%s%s", name, k, didYouMean(k, keys))
				}
			}
			continue
		}
		if !top[name] {
			hint := didYouMean(name, top)
			if hint == "" {
				for s, keys := range sections {
					if keys[name] {
						hint = fmt.Sprintf(" (it is a flag of %s only: put it under %s:)", s, s)
					}
				}
			}
			return usagef("--config: unknown key %s%s", name, hint)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// didYouMean names the known key closest to k, if it is close: the same
// with '-' for '_' or different case, or within an edit distance of 2.
func didYouMean(k string, known map[string]bool) string {
	norm := strings.ReplaceAll(strings.ToLower(k), "_", "-")
	best, bestD := "", 3
	for _, c := range sortedKeys(known) {
		if c == norm {
			return fmt.Sprintf(" (did you mean %s?)", c)
		}
		if d := editDistance(norm, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
