package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
)

//go:embed controls.json
var defaultControls []byte

// Control says which control objective a kind of finding evidences, and
// which severity makes the control fail rather than need attention.
type Control struct {
	Finding   string `json:"finding"`   // the policy-findings finding kind
	Title     string `json:"title"`     // what a reader calls the finding
	Control   string `json:"control"`   // the control it evidences, e.g. "Authenticator management"
	Objective string `json:"objective"` // the objective, in one sentence
	FailAt    string `json:"fail_at"`   // lowest severity that fails the control: high, medium, low or info
}

// Controls maps finding kinds to controls, in the order the summary lists
// them. It comes from a JSON file (report/controls.json is the default);
// an operator replaces it with report pack --controls FILE.
type Controls struct {
	Version  int       `json:"version"`
	Controls []Control `json:"controls"`
}

// Severities in decreasing order.
var Severities = []string{"high", "medium", "low", "info"}

func severityRank(s string) int {
	for i, v := range Severities {
		if v == s {
			return i
		}
	}
	return len(Severities)
}

// DefaultControls returns the mapping shipped with tokentrail.
func DefaultControls() *Controls {
	c, err := ParseControls(defaultControls)
	if err != nil {
		panic(err) // compiled in; TestDefaultControls keeps it valid
	}
	return c
}

// LoadControls reads a mapping file.
func LoadControls(path string) (*Controls, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseControls(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseControls reads a mapping: unknown keys, a finding listed twice, an
// empty control or an unknown fail_at are errors.
func ParseControls(b []byte) (*Controls, error) {
	var c Controls
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("controls: %w", err)
	}
	delete(raw, "_comment") // JSON has no comments: the file documents itself here
	clean, _ := json.Marshal(raw)
	dec := json.NewDecoder(bytes.NewReader(clean))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("controls: %w", err)
	}
	if c.Version != 1 {
		return nil, fmt.Errorf("controls: version %d, want 1", c.Version)
	}
	seen := map[string]bool{}
	for i, ctl := range c.Controls {
		switch {
		case ctl.Finding == "":
			return nil, fmt.Errorf("controls[%d]: finding is empty", i)
		case seen[ctl.Finding]:
			return nil, fmt.Errorf("controls[%d]: finding %q listed twice", i, ctl.Finding)
		case ctl.Control == "":
			return nil, fmt.Errorf("controls[%d] (%s): control is empty", i, ctl.Finding)
		case severityRank(ctl.FailAt) == len(Severities):
			return nil, fmt.Errorf("controls[%d] (%s): fail_at %q: want high, medium, low or info", i, ctl.Finding, ctl.FailAt)
		}
		seen[ctl.Finding] = true
	}
	return &c, nil
}

// lookup returns the control of a finding kind.
func (c *Controls) lookup(finding string) (Control, bool) {
	for _, ctl := range c.Controls {
		if ctl.Finding == finding {
			return ctl, true
		}
	}
	return Control{}, false
}
