package difftest

import (
	"os/exec"
	"strings"
	"testing"
)

// chdb-go panics in its init when libchdb.so is missing: no command may
// link it, whatever the build tags.
func TestCommandsDoNotLinkChDB(t *testing.T) {
	for _, tags := range []string{"", "chdb"} {
		out, err := exec.Command("go", "list", "-tags", tags, "-deps", "github.com/tokentrail/tokentrail/cmd/...").CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "github.com/tokentrail/tokentrail/queries") {
			t.Fatalf("go list -deps printed no project package:\n%s", out)
		}
		for _, pkg := range strings.Fields(string(out)) {
			if strings.HasPrefix(pkg, "github.com/chdb-io/") || strings.HasSuffix(pkg, "/internal/chdbtest") {
				t.Errorf("a command links %s (tags %q)", pkg, tags)
			}
		}
	}
}
