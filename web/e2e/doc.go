// Package e2e holds the web client's end-to-end browser tests.
//
// The tests themselves are JavaScript (*.test.mjs, run by Node's built-in
// test runner): they start a real `parley serve` on free loopback ports,
// drive Debian's Chromium through playwright-core, and save screenshots in
// screenshots/. The Go test here only runs them, so that `go test ./...`
// covers the browser too: it skips when Chromium or Node.js is missing,
// unless PARLEY_REQUIRE_ALL=1, when it fails instead.
//
// To run them by hand: `npm ci && npm test` in this folder. PARLEY_BIN
// names a parley binary to use instead of building one, PARLEY_CHROMIUM a
// browser other than /usr/bin/chromium, and PARLEY_E2E_KEEP=1 keeps the
// servers' data folders and logs.
package e2e
