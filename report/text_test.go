package report

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// On a terminal, table rows fit its width: the widest text columns are
// cut with "…", numbers never.
func TestTextFitsWidth(t *testing.T) {
	res := result(t)
	long := strings.Repeat("very long label ", 10)
	res.Tables[1].Rows = append(res.Tables[1].Rows, []any{long, nil, 123456.5, []any{"x"}})
	var b bytes.Buffer
	if err := RenderText(&b, res, 40); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	inTable := false
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "label") {
			inTable = true
		}
		if inTable && utf8.RuneCountInString(line) > 40 {
			t.Errorf("line of %d columns: %q", utf8.RuneCountInString(line), line)
		}
	}
	if !strings.Contains(out, "123456.5") || !strings.Contains(out, "…") {
		t.Errorf("numbers cut or text not shortened:\n%s", out)
	}
	b.Reset()
	if err := RenderText(&b, res, 0); err != nil || !strings.Contains(b.String(), strings.TrimSpace(long)) {
		t.Errorf("width 0 must not cut: %v\n%s", err, b.String())
	}
}

// A note on the result (a stale collection) shows in text and Markdown.
func TestNotes(t *testing.T) {
	res := result(t)
	res.Notes = []string{"The newest record of tenant t is old."}
	for _, f := range []Format{Table, Markdown} {
		var b bytes.Buffer
		if err := Render(&b, f, res); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "The newest record of tenant t is old.") {
			t.Errorf("%s lacks the note:\n%s", f, b.String())
		}
	}
}
