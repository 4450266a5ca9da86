package chcluster_test

import (
	"os"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/internal/chcluster"
)

func TestHold(t *testing.T) {
	if os.Getenv("HOLD") == "" {
		t.Skip()
	}
	c := chcluster.Start(t, chcluster.Options{})
	os.WriteFile("/tmp/i13hold", []byte(c.DSN("x")), 0o644)
	time.Sleep(10 * time.Minute)
}
