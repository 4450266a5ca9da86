package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// chromiumNames are the binaries --format pdf tries, in order.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// errNoChromium says why there is no PDF and what to do instead.
var errNoChromium = errors.New("--format pdf needs Chromium or Chrome (" + strings.Join(chromiumNames, ", ") +
	" on PATH, or --chromium PATH / TOKENTRAIL_CHROMIUM): install it (Debian: apt-get install chromium), " +
	"or write --format html and use the browser's Print > Save as PDF")

// findChromium returns the browser binary: the one named, or the first of
// chromiumNames on PATH.
func findChromium(named string) (string, error) {
	if named != "" {
		p, err := exec.LookPath(named)
		if err != nil {
			return "", usagef("--chromium %s: %v", named, err)
		}
		return p, nil
	}
	for _, n := range chromiumNames {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", errNoChromium
}

// chromiumFlags make a headless run that touches nothing outside its own
// temporary profile: no sandbox (it runs as any user, in containers too),
// no GPU, no background network, updates or sync.
var chromiumFlags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
	"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"}

// printPDF prints the HTML page to pdf with headless Chromium, replacing
// pdf only when the print succeeded.
func printPDF(ctx context.Context, bin, page, pdf string) error {
	abs, err := filepath.Abs(page)
	if err != nil {
		return err
	}
	profile, err := os.MkdirTemp("", "tokentrail-chromium-")
	if err != nil {
		return fmt.Errorf("chromium profile: %w", err)
	}
	defer os.RemoveAll(profile)
	tmp := filepath.Join(filepath.Dir(pdf), "."+filepath.Base(pdf)+".tmp")
	defer os.Remove(tmp) // no-op after the rename
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	args := append(append([]string(nil), chromiumFlags...), "--user-data-dir="+profile,
		"--no-pdf-header-footer", "--print-to-pdf="+tmp, "file://"+abs)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("chromium %s could not print %s: %w: %s", bin, page, err, lastLine(stderr.String()))
	}
	if st, err := os.Stat(tmp); err != nil || st.Size() == 0 {
		return fmt.Errorf("chromium %s wrote no PDF for %s: %s", bin, page, lastLine(stderr.String()))
	}
	if err := os.Rename(tmp, pdf); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
