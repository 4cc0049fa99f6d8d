package api

import (
	"strings"
	"testing"

	"github.com/parley-chat/parley/internal/hub"
)

func TestBatchesJoinUpToTheLimit(t *testing.T) {
	d := func(s string) *hub.Delivery { return &hub.Delivery{Data: []byte(s)} }
	big := strings.Repeat("x", maxBatchBytes)
	ds := []*hub.Delivery{d("a"), d("b"), d(big), d("c"), d("d")}
	var frames []string
	var scratch []byte
	err := batches(ds, &scratch, func(f []byte) error {
		frames = append(frames, string(f))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a\nb", big, "c\nd"}
	if len(frames) != len(want) {
		t.Fatalf("%d frames, want %d", len(frames), len(want))
	}
	for i := range want {
		if frames[i] != want[i] {
			t.Errorf("frame %d = %.20q, want %.20q", i, frames[i], want[i])
		}
	}
}
