package e2e

import (
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/testenv"
)

// scene is the traffic the failure tests run through a cluster: alice
// writes to bob and erin to carol in DMs, alice and bob post to a group
// of the four with dave, and bob, carol and dave follow their streams,
// each on a node of its own and over WebSocket or SSE.
type scene struct {
	c                *Cluster
	alice, bob, erin *User
	carol, dave      *User
	g                group

	bobF, carolF, daveF *follower
	tr                  *traffic
}

// Sender prefixes of a scene.
const (
	prefixAliceBob  = "alice-bob"
	prefixErinCarol = "erin-carol"
	prefixGroupA    = "group-alice"
	prefixGroupB    = "group-bob"
)

// startScene registers the users, connects the followers and starts the
// traffic. Node 0 carries bob's WebSocket, carol's SSE stream and the
// first choice of two senders: the node to kill.
func startScene(t *testing.T, c *Cluster) *scene {
	t.Helper()
	n0, n1, n2 := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	sc := &scene{c: c}
	sc.alice, sc.bob, sc.erin = n0.Register(t, "alice"), n1.Register(t, "bob"), n2.Register(t, "erin")
	sc.carol, sc.dave = n0.Register(t, "carol"), n1.Register(t, "dave")
	sc.g = createGroup(t, sc.alice, "ops", "bob", "carol", "dave")

	sc.bobF = follow(t, sc.bob, false, n0, n1, n2)
	sc.carolF = follow(t, sc.carol, true, n0, n2, n1)
	sc.daveF = follow(t, sc.dave, false, n1, n2, n0)

	groupPath := "/v1/groups/" + sc.g.ID + "/messages"
	sc.tr = startTraffic(
		sender{from: sc.alice, path: "/v1/dm/bob/messages", prefix: prefixAliceBob, nodes: []*Server{n0, n1, n2}},
		sender{from: sc.erin, path: "/v1/dm/carol/messages", prefix: prefixErinCarol, nodes: []*Server{n1, n2, n0}},
		sender{from: sc.alice, path: groupPath, prefix: prefixGroupA, nodes: []*Server{n2, n0, n1}},
		sender{from: sc.bob, path: groupPath, prefix: prefixGroupB, nodes: []*Server{n0, n2, n1}},
	)
	t.Cleanup(sc.tr.Stop)
	return sc
}

// checkDelivered waits until every follower received every acknowledged
// message meant for it, each exactly once.
func (sc *scene) checkDelivered(t *testing.T, timeout time.Duration) {
	t.Helper()
	sc.bobF.waitFor(t, timeout, sc.tr.ids(prefixAliceBob, prefixGroupA, prefixGroupB))
	sc.carolF.waitFor(t, timeout, sc.tr.ids(prefixErinCarol, prefixGroupA, prefixGroupB))
	sc.daveF.waitFor(t, timeout, sc.tr.ids(prefixGroupA, prefixGroupB))
}

// checkHistory waits until the histories, read through node s, hold
// every acknowledged message once.
func (sc *scene) checkHistory(t *testing.T, timeout time.Duration, s *Server) {
	t.Helper()
	waitHistoryHolds(t, timeout, sc.bob.On(s), "/v1/dm/alice", sc.tr.ids(prefixAliceBob))
	waitHistoryHolds(t, timeout, sc.carol.On(s), "/v1/dm/erin", sc.tr.ids(prefixErinCarol))
	waitHistoryHolds(t, timeout, sc.dave.On(s), "/v1/groups/"+sc.g.ID,
		sc.tr.ids(prefixGroupA, prefixGroupB))
}

// run lets the traffic flow for d under the name of a phase.
func (sc *scene) run(phase string, d time.Duration) {
	sc.tr.setPhase(phase)
	time.Sleep(d)
}

// messagePartitions is the number of partitions of the DM and group
// topics together at their default sizes.
const messagePartitions = 6 + 6

// archiverRebalanceTimeout bounds how long the archiver's group takes to
// hand a dead member's partitions to the others: the broker notices the
// death after the session timeout (franz-go's default, 45 s), then the
// group rebalances.
const archiverRebalanceTimeout = 90 * time.Second

// A Parley node killed with SIGKILL under traffic: its clients reconnect
// to the other nodes and resume without gaps or duplicates, its senders
// retry there, no acknowledged message is lost, and its archiver
// partitions move to the surviving nodes.
func TestClusterNodeKilled(t *testing.T) {
	c := StartCluster(t, clusterNodes)
	n0, n1, n2 := c.Nodes[0], c.Nodes[1], c.Nodes[2]

	// Kill a node of a settled group: a member killed in the middle of a
	// rebalance holds the others up until its session times out, and
	// their offset commits fail meanwhile.
	spread := c.waitArchiverSettled(t, 60*time.Second, c.Nodes)
	t.Logf("archiver partitions per node: %v", spread)

	sc := startScene(t, c)
	sc.run("before", 2*time.Second)
	sc.tr.setPhase("node 0 killed")
	killedAt := time.Now()
	n0.Kill()
	sc.run("node 0 killed", 4*time.Second)
	sc.tr.Stop()
	sc.tr.report(t)

	sc.checkDelivered(t, 30*time.Second)
	for _, f := range []*follower{sc.bobF, sc.carolF} {
		if f.connections() < 2 {
			t.Errorf("%s's follower on the killed node never reconnected", f.name)
		}
		t.Logf("%s: %d connections, ends: %v", f.name, f.connections(), f.endReasons())
	}
	if n := sc.daveF.connections(); n != 1 {
		t.Errorf("dave's follower on a surviving node reconnected: %d connections, ends: %v",
			n, sc.daveF.endReasons())
	}

	// The survivors take the dead node's archiver partitions over, archive
	// what it left, and commit it.
	survivors := []*Server{n1, n2}
	waitUntil(t, archiverRebalanceTimeout, "the dead node's archiver partitions never moved", func() bool {
		var ok bool
		spread, ok = c.archiverSpread(survivors, messagePartitions)
		return ok
	})
	t.Logf("archiver partitions per surviving node %v after the kill: %v",
		time.Since(killedAt).Round(time.Second), spread)
	sc.checkHistory(t, 30*time.Second, n1)
	sc.checkHistory(t, 10*time.Second, n2)
	c.waitNoArchiverLag(t, 30*time.Second, n2)
}

// brokerFenceTime is how long the Kafka controller takes to declare a
// killed broker dead: the cluster's broker.session.timeout.ms, 9 s by
// default, plus a margin. Until then the dead broker stays in the
// in-sync replicas of every partition it holds, so a send with acks=all
// to any of them waits, and with replication factor 3 on three brokers
// that is every partition.
const brokerFenceTime = 12 * time.Second

// One Kafka broker killed under traffic and restarted: sends go on once
// the cluster fenced the dead broker (before that, every send waits),
// and nothing acknowledged is lost, live or in history.
func TestClusterKafkaBrokerKilled(t *testing.T) {
	c := StartCluster(t, clusterNodes)
	const broker = 1
	restarted := true
	t.Cleanup(func() {
		if !restarted {
			testenv.RestartKafkaBroker(t, broker)
		}
	})

	sc := startScene(t, c)
	sc.run("before", 2*time.Second)
	sc.tr.setPhase("broker down, being fenced")
	restarted = false
	testenv.KillKafkaBroker(t, broker)
	sc.run("broker down, being fenced", brokerFenceTime)
	sc.run("broker down, fenced", 4*time.Second)
	sc.tr.setPhase("broker restarting")
	began := time.Now()
	testenv.RestartKafkaBroker(t, broker)
	restarted = true
	t.Logf("broker %d restarted in %v", broker, time.Since(began).Round(100*time.Millisecond))
	sc.run("after", 3*time.Second)
	sc.tr.Stop()
	sc.tr.report(t)

	for prefix, n := range sc.tr.senderAcksIn("broker down, fenced") {
		if n == 0 {
			t.Errorf("sender %s got no acknowledgement while broker %d was down, %v after it died",
				prefix, broker, brokerFenceTime)
		}
	}
	sc.checkDelivered(t, 60*time.Second)
	for _, f := range []*follower{sc.bobF, sc.carolF, sc.daveF} {
		t.Logf("%s: %d connections, ends: %v", f.name, f.connections(), f.endReasons())
	}
	sc.checkHistory(t, 60*time.Second, c.Nodes[2])
}

// PostgreSQL restarted under traffic: live delivery goes on without a
// client noticing, the archiver catches up, and history is complete.
func TestClusterPostgresRestarted(t *testing.T) {
	c := StartCluster(t, clusterNodes)
	sc := startScene(t, c)
	sc.run("before", 2*time.Second)
	sc.tr.setPhase("postgres restarting")
	testenv.RestartPostgres(t)
	sc.run("after", 3*time.Second)
	sc.tr.Stop()
	sc.tr.report(t)

	sc.checkDelivered(t, 30*time.Second)
	for _, f := range []*follower{sc.bobF, sc.carolF, sc.daveF} {
		if n := f.connections(); n != 1 {
			t.Errorf("%s's stream was cut while PostgreSQL restarted: %d connections, ends: %v",
				f.name, n, f.endReasons())
		}
	}
	sc.checkHistory(t, 60*time.Second, c.Nodes[1])
	c.waitNoArchiverLag(t, 30*time.Second, c.Nodes[0])
}
