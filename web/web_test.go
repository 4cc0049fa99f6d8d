package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandlerServesIndexAtRoot(t *testing.T) {
	res := get(t, Handler(), http.MethodGet, "/", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", res.StatusCode)
	}
	body, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(body), `<script type="module" src="/js/main.js">`) {
		t.Fatalf("body is not index.html:\n%s", body)
	}
	for k, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-cache",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy %q lacks default-src 'self'", csp)
	}
	if res.Header.Get("ETag") == "" {
		t.Error("no ETag")
	}
}

func TestHandlerServesAssetsWithTypes(t *testing.T) {
	tests := []struct{ path, ctype string }{
		{"/index.html", "text/html; charset=utf-8"},
		{"/css/app.css", "text/css; charset=utf-8"},
		{"/js/main.js", "text/javascript; charset=utf-8"},
		{"/js/live.js", "text/javascript; charset=utf-8"},
		{"/favicon.svg", "image/svg+xml"},
	}
	h := Handler()
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := get(t, h, http.MethodGet, tt.path, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", res.StatusCode)
			}
			if got := res.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q, want %q", got, tt.ctype)
			}
			if got := res.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache", got)
			}
		})
	}
}

func TestHandlerRevalidatesWithETag(t *testing.T) {
	h := Handler()
	first := get(t, h, http.MethodGet, "/js/app.js", nil)
	etag := first.Header.Get("ETag")
	if etag == "" || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("ETag %q, want a quoted strong tag", etag)
	}

	again := get(t, h, http.MethodGet, "/js/app.js", map[string]string{"If-None-Match": etag})
	if again.StatusCode != http.StatusNotModified {
		t.Fatalf("status %d with a matching If-None-Match, want 304", again.StatusCode)
	}

	stale := get(t, h, http.MethodGet, "/js/app.js", map[string]string{"If-None-Match": `"old"`})
	if stale.StatusCode != http.StatusOK {
		t.Fatalf("status %d with a stale If-None-Match, want 200", stale.StatusCode)
	}

	other := get(t, h, http.MethodGet, "/js/api.js", nil)
	if other.Header.Get("ETag") == etag {
		t.Fatal("two different files share an ETag")
	}
}

func TestHandlerRefusesWhatItDoesNotServe(t *testing.T) {
	tests := []struct {
		name, method, path string
		want               int
	}{
		{"unknown file is not found", http.MethodGet, "/nope.js", http.StatusNotFound},
		{"the Go source is not served", http.MethodGet, "/web.go", http.StatusNotFound},
		{"the browser tests are not served", http.MethodGet, "/e2e/package.json", http.StatusNotFound},
		{"a folder is not listed", http.MethodGet, "/js/", http.StatusNotFound},
		{"dot segments stay inside", http.MethodGet, "/js/../../web.go", http.StatusNotFound},
		{"POST is not allowed", http.MethodPost, "/", http.StatusMethodNotAllowed},
	}
	h := Handler()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, h, tt.method, tt.path, nil)
			if res.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.want)
			}
		})
	}
}

func TestHandlerAnswersHEADWithoutBody(t *testing.T) {
	res := get(t, Handler(), http.MethodHead, "/", nil)
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || len(body) != 0 {
		t.Fatalf("status %d, %d body bytes; want 200 and none", res.StatusCode, len(body))
	}
}

func TestIndexReferencesOnlyEmbeddedFiles(t *testing.T) {
	h := Handler().(*handler)
	index := string(h.assets["/index.html"].body)
	for _, ref := range []string{"/css/app.css", "/js/boot.js", "/js/main.js", "/favicon.svg"} {
		if !strings.Contains(index, ref) {
			t.Errorf("index.html does not reference %s", ref)
		}
		if _, ok := h.assets[ref]; !ok {
			t.Errorf("%s is referenced but not embedded", ref)
		}
	}
	if strings.Contains(index, "http://") || strings.Contains(index, "https://") {
		t.Error("index.html loads something from another origin")
	}
}
