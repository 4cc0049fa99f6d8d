package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A busy group moves from the shared topic to a topic of its own while its
// members post through three nodes: nothing is lost, duplicated or
// reordered, live on every node or in history read from any node.
func TestClusterMoveGroupUnderTraffic(t *testing.T) {
	c := StartCluster(t, clusterNodes)
	users := make([]*User, len(c.Nodes))
	for i, n := range c.Nodes {
		users[i] = n.Register(t, fmt.Sprintf("mover%d", i))
	}
	g := createGroup(t, users[0], "busy", users[1].Name, users[2].Name)
	conns := make([]*WS, len(users))
	for i, u := range users {
		// Each member listens on another node than it posts to.
		conns[i] = u.On(c.Nodes[(i+1)%len(c.Nodes)]).DialWS(t, "")
		conns[i].NextOfType("ready", 10*time.Second)
	}

	const each = 30
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() {
			for j := range each {
				postGroup(t, u, g, fmt.Sprintf("%s %d", u.Name, j), fmt.Sprintf("%s-%d", u.Name, j))
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	time.Sleep(time.Second)
	var moved struct {
		Strategy string `json:"strategy"`
	}
	if code := c.API(1).Call(t, "POST", "/v1/admin/groups/"+g.ID+"/move",
		map[string]string{"strategy": "dedicated"}, &moved); code != 200 || moved.Strategy != "dedicated" {
		t.Fatalf("move: %d %+v", code, moved)
	}
	wg.Wait()

	total := len(users) * each
	var first string
	for i, ws := range conns {
		ids := strings.Join(checkGroupStream(t, ws.Messages(total, 30*time.Second), users, each), ",")
		if i == 0 {
			first = ids
		} else if ids != first {
			t.Fatalf("%s saw another order than %s", users[i].Name, users[0].Name)
		}
	}
	for i, u := range users {
		h := u.On(c.Nodes[(i+2)%len(c.Nodes)]).WaitHistory(t, "/v1/groups/"+g.ID, func(h []Message) bool {
			return len(onlyMessages(h)) == total
		})
		msgs := onlyMessages(h)
		if ids := strings.Join(checkGroupStream(t, msgs, users, each), ","); ids != first {
			t.Fatalf("history read by %s differs from the live order", u.Name)
		}
		if last, _ := strconv.ParseInt(msgs[len(msgs)-1].Cursor, 10, 64); last < 1<<48 {
			t.Errorf("last cursor %d: the newest entries are not on the dedicated topic", last)
		}
	}
}
