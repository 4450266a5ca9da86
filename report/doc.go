// Package report renders the results of tokentrail's review reports
// (package queries) as aligned text, CSV, JSON, Markdown or HTML, and builds
// review packs: one HTML or Markdown document holding every report.
//
// A pack opens with a summary a reviewer signs: the collection coverage of
// the period (from the collection-coverage report), key figures counted from
// the reports' own rows (Summarize), findings per kind with the control
// objective each evidences (Controls, replaceable by the operator) and a
// pass, attention or fail status, and a sign-off block. The HTML details
// show at most PackInfo.Top rows per section, columns chosen to fit a
// printed page; WritePack puts one CSV per section with every row beside it.
// Overview compares several tenants' packs.
//
// Output is deterministic for a given result (column order from the SQL,
// rows in SQL order, times in UTC), so it can be compared with golden files.
// Untrusted text (token labels, actors, descriptions) is escaped for each
// format: html/template for HTML, Markdown punctuation and raw HTML for
// Markdown, control characters for text, formula prefixes for CSV.
package report
