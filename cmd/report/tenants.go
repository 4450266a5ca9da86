package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tokentrail/tokentrail/report"
)

// tenantsSQL lists every tenant with data in ClickHouse.
const tenantsSQL = `SELECT tenant FROM
(
    SELECT DISTINCT tenant FROM tokens
    UNION ALL SELECT DISTINCT tenant FROM audit_events
    UNION ALL SELECT DISTINCT tenant FROM settings_changes
) AS all_tenants
GROUP BY tenant
ORDER BY tenant`

func listTenants(ctx context.Context, conn driver.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, tenantsSQL)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// tenantFile is the pack file of one tenant beside the overview at out:
// review.html → review-TENANT.html. A tenant name that is not a safe file
// name is cleaned and given a short hash, so that two names never share a
// file.
func tenantFile(out, tenant, ext string) string {
	slug := unsafeName.ReplaceAllString(tenant, "_")
	if slug != tenant || strings.HasPrefix(slug, ".") || slug == "" {
		sum := sha256.Sum256([]byte(tenant))
		slug = strings.TrimLeft(slug, ".") + "-" + hex.EncodeToString(sum[:4])
	}
	base := strings.TrimSuffix(out, filepath.Ext(out))
	return base + "-" + slug + ext
}

// allTenants writes one pack per tenant and the overview linking them.
func (j *packJob) allTenants(ctx context.Context, conn driver.Conn) error {
	out := j.cmd.Out
	if err := checkOutDir(out); err != nil {
		return err
	}
	tenants, err := listTenants(ctx, conn)
	if err != nil {
		return err
	}
	if len(tenants) == 0 {
		return fmt.Errorf("--all-tenants: ClickHouse holds no tenant's data")
	}
	ext := map[report.Format]string{report.HTML: ".html", report.Markdown: ".md"}[j.format]
	if j.pdf {
		ext = ".pdf"
	}
	var packs []report.TenantPack
	for _, t := range tenants {
		tenant := t
		info, results, err := j.run(ctx, conn, &tenant)
		if err != nil {
			return fmt.Errorf("tenant %s: %w", t, err)
		}
		file := tenantFile(out, t, ext)
		if err := j.write(ctx, nil, file, info, results); err != nil {
			return fmt.Errorf("tenant %s: %w", t, err)
		}
		packs = append(packs, report.TenantPack{Tenant: t, Link: filepath.Base(file), Info: info, Results: results})
	}
	var buf bytes.Buffer
	if err := report.Overview(&buf, j.cmd.Title+": all tenants", j.now, packs); err != nil {
		return fmt.Errorf("render overview: %w", err)
	}
	if err := report.WriteFileAtomic(out, buf.Bytes()); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}
