package checkpoint_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/tokentrail/tokentrail/collector/checkpoint"
)

func ExampleFileStore() {
	dir, _ := os.MkdirTemp("", "state")
	defer os.RemoveAll(dir)
	store, err := checkpoint.OpenFileStore(dir)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	st := checkpoint.New("acme", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	st.Audit.Cursor = time.Date(2025, 3, 1, 9, 15, 0, 0, time.UTC)
	st.Audit.Recent["5d2e8f41a7c94b0e86f3d1a2b9c07e54"] = st.Audit.Cursor
	if err := store.Save(ctx, st); err != nil {
		log.Fatal(err)
	}

	back, err := store.Load(ctx, "acme")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(back.Audit.Cursor.Format(time.RFC3339), back.Audit.SeenAtCursor())

	// A damaged file is an error, never a silent fresh start.
	_ = os.WriteFile(store.Path("acme"), []byte("{"), 0o600)
	_, err = store.Load(ctx, "acme")
	fmt.Println(err != nil)
	// Output:
	// 2025-03-01T09:15:00Z [5d2e8f41a7c94b0e86f3d1a2b9c07e54]
	// true
}
