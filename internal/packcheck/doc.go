// Package packcheck opens review packs in headless Chromium for tests: it
// checks what a reader would see (no console errors, every link resolves,
// no table or chart wider than a printed page), reads the summary's figures
// from the rendered page, takes screenshots and counts the pages of a PDF.
//
// It is test support: only _test files import it.
package packcheck
