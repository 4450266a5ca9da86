package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// A note on a result (the period not fully collected) shows at the top of
// the HTML and in the JSON document; without notes the JSON keeps its shape.
func TestNotesHTMLJSON(t *testing.T) {
	res := result(t)
	var plain bytes.Buffer
	if err := Render(&plain, JSON, res); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), `"notes"`) {
		t.Error("a result without notes has a notes key")
	}
	res.Notes = []string{"Collection coverage of the period: incomplete. <gap>"}
	var h bytes.Buffer
	if err := Render(&h, HTML, res); err != nil {
		t.Fatal(err)
	}
	page := h.String()
	i, j := strings.Index(page, "Note: Collection coverage of the period: incomplete. &lt;gap&gt;"), strings.Index(page, "<h3>")
	if i < 0 || i > j {
		t.Errorf("the note is not above the first section:\n%s", page)
	}
	var js bytes.Buffer
	if err := Render(&js, JSON, res); err != nil {
		t.Fatal(err)
	}
	var doc struct{ Notes []string }
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil || len(doc.Notes) != 1 || doc.Notes[0] != res.Notes[0] {
		t.Errorf("JSON notes %q, %v", doc.Notes, err)
	}
}
