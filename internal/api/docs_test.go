package api

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNoKafkaOrSQL keeps the API away from franz-go and SQL
// drivers: it must know Kafka and the store only through the service.
func TestImportsNoKafkaOrSQL(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"github.com/twmb/franz-go", "database/sql", "modernc.org/sqlite",
		"github.com/jackc/pgx", "github.com/mattn/go-sqlite3", "github.com/lib/pq"}
	for dep := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("package api depends on %s", dep)
			}
		}
	}
}

// TestOpenAPICoversEveryRoute fails when a route registered on the mux is
// missing from openapi.yaml.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	a, err := New(Config{Service: nodeForDocs(t), Secret: []byte(testSecret), APIKey: testAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	documented := openAPIOperations(openapiDoc)
	for _, p := range a.patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			continue // catch-alls
		}
		if !documented[strings.ToLower(method)+" "+path] {
			t.Errorf("route %s is missing from openapi.yaml", p)
		}
	}
}

// openAPIOperations lists "method path" for each operation of the
// document's paths section: path keys at indent 2, methods at indent 4.
func openAPIOperations(doc []byte) map[string]bool {
	ops := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(doc))
	inPaths, path := false, ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "paths:":
			inPaths = true
		case inPaths && line != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#"):
			inPaths = false
		case inPaths && strings.HasPrefix(line, "  /") && strings.HasSuffix(line, ":"):
			path = strings.TrimSuffix(strings.TrimSpace(line), ":")
		case inPaths && len(line) > 4 && strings.HasPrefix(line, "    ") && line[4] != ' ':
			method := strings.TrimSuffix(strings.TrimSpace(line), ":")
			ops[method+" "+path] = true
		}
	}
	return ops
}

// TestAsyncAPIDocumentsCloseCodesAndEvents checks that the AsyncAPI
// document names every close code and event type the code uses.
func TestAsyncAPIDocumentsCloseCodesAndEvents(t *testing.T) {
	for _, want := range []string{"4000", "4001", "4002", "4401", "1009", `"sent"`, `"ok"`, `"error"`,
		`"pong"`, `"message"`, `"member"`, `"read"`, `"notification"`, `"ready"`, "parley-type",
		"parley-dead-reason", "parley.dead-letters"} {
		if !bytes.Contains(asyncapiDoc, []byte(want)) {
			t.Errorf("asyncapi.yaml does not mention %s", want)
		}
	}
}
