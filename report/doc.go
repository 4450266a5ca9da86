// Package report renders the results of tokentrail's review reports
// (package queries) as aligned text, CSV, JSON, Markdown or HTML, and builds
// review packs: one HTML or Markdown document holding every report, with a
// table of contents and inline SVG charts drawn here in Go.
//
// Output is deterministic for a given result (column order from the SQL,
// rows in SQL order, times in UTC), so it can be compared with golden files.
// Untrusted text (token labels, actors, descriptions) is escaped for each
// format: html/template for HTML, Markdown punctuation and raw HTML for
// Markdown, control characters for text, formula prefixes for CSV.
package report
