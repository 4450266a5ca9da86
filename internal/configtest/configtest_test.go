package configtest_test

import (
	"testing"

	"github.com/tokentrail/tokentrail/internal/configtest"
)

func TestWithDefaults(t *testing.T) {
	type cfg struct {
		A int
		B string
		C []int
	}
	got := configtest.WithDefaults(cfg{A: 5}, cfg{A: 1, B: "b", C: []int{1}})
	if got.A != 5 || got.B != "b" || len(got.C) != 1 {
		t.Fatalf("%+v", got)
	}
}
