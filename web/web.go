// Package web holds Parley's browser client and serves it.
//
// The client is plain HTML, CSS and ES modules with no build step: the files
// in this folder are what the browser runs, embedded into the binary at
// compile time. Handler serves them; `parley serve` mounts it at `/` beside
// the API.
//
// Every file is served with `Cache-Control: no-cache` and a strong ETag
// derived from its content, so a browser revalidates on each load and gets
// `304 Not Modified` while the binary is unchanged, and never runs a stale
// module after an upgrade. The files are small, so the revalidation round
// trip costs less than a fingerprinting build step would.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed index.html favicon.svg css js
var files embed.FS

// securityPolicy keeps the page to its own origin: no inline script, no
// third-party anything. connect-src 'self' covers the same-origin WebSocket.
const securityPolicy = "default-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// asset is one embedded file, read once.
type asset struct {
	body  []byte
	etag  string
	ctype string
}

// handler serves the embedded assets by their path.
type handler struct {
	assets map[string]asset
}

// Handler returns an http.Handler that serves the web client: index.html
// at `/`, the other files under their own paths, 404 for anything else.
// Only GET and HEAD are allowed. It is safe for concurrent use.
func Handler() http.Handler {
	h := &handler{assets: map[string]asset{}}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		h.assets["/"+p] = asset{
			body:  body,
			etag:  `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
			ctype: contentType(p),
		}
		return nil
	})
	if err != nil {
		// The files are compiled in; failing to read them is a build bug.
		panic("web: read embedded files: " + err.Error())
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}

	name := path.Clean("/" + r.URL.Path)
	if name == "/" {
		name = "/index.html"
	}
	a, ok := h.assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}

	hdr := w.Header()
	hdr.Set("Content-Type", a.ctype)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", a.etag)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if name == "/index.html" {
		hdr.Set("Content-Security-Policy", securityPolicy)
	}
	// ServeContent answers If-None-Match with 304 and handles Range and
	// HEAD; the zero time leaves Last-Modified out, so the ETag decides.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}

// contentType names the media type of an embedded file by its extension,
// without depending on the host's MIME tables.
func contentType(p string) string {
	switch strings.ToLower(path.Ext(p)) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".json", ".webmanifest":
		return "application/json"
	}
	if t := mime.TypeByExtension(path.Ext(p)); t != "" {
		return t
	}
	return "application/octet-stream"
}
