// Package migrations embeds the versioned ClickHouse DDL files (NNNN_name.sql).
package migrations

import "embed"

// FS holds every migration file, applied in file-name order.
//
//go:embed *.sql
var FS embed.FS
