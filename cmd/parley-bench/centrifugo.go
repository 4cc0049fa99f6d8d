package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-chat/parley/internal/kafka"
	"github.com/parley-chat/parley/internal/parley"
)

// centrifugoTarget drives a Centrifugo v6 server with the parts of its
// JSON client protocol the scenarios need (connect, subscribe, answer
// pings), its server HTTP API (/api/publish, /api/broadcast) and its
// Kafka consumer in publication data mode (the record's value is the
// publication's data, the header centrifugo-channels names the channel).
//
// Channels: a user's own stream is "u.<user>", a group's is "g.<group>".
// The channel namespace without a name must let clients subscribe
// (channel.without_namespace.allow_subscribe_for_client).
type centrifugoTarget struct {
	base    string
	secret  []byte
	keyLine string // "X-API-Key: <key>", the header of API calls
	send    *httpSender
	kafka   *kafka.Client
	topic   string
	// dmToBoth publishes a DM to both participants' channels, so that
	// the sender's connections get it too, as Parley's do.
	dmToBoth bool
}

func newCentrifugoTarget(ctx context.Context, o *options) (*centrifugoTarget, error) {
	t := &centrifugoTarget{
		base:     "http://" + o.addr,
		secret:   []byte(o.secret),
		keyLine:  "X-API-Key: " + o.apiKey,
		send:     newHTTPSender(o.addr, sendTimeout),
		topic:    o.notifyTopic,
		dmToBoth: o.dmTo == "both",
	}
	if o.scenario == "notify" && o.shard.i == 0 {
		kc, err := kafka.New(ctx, kafka.Config{Brokers: []string{o.kafkaAddr}, ClientID: "parley-bench"})
		if err != nil {
			return nil, fmt.Errorf("connect to kafka: %w", err)
		}
		if err := kc.EnsureTopics(ctx, []kafka.TopicSpec{{Name: t.topic, Partitions: 3}}); err != nil {
			kc.Close()
			return nil, fmt.Errorf("create topic: %w", err)
		}
		t.kafka = kc
	}
	return t, nil
}

func (t *centrifugoTarget) name() string { return "centrifugo" }

func (t *centrifugoTarget) close() {
	t.send.close()
	if t.kafka != nil {
		t.kafka.Close()
	}
}

// centReply is the part of a Centrifugo reply the tool reads.
type centReply struct {
	ID    uint32          `json:"id"`
	Error json.RawMessage `json:"error"`
}

// connect sends the connect command with a token, then subscribes to the
// user's channel and, when group is not empty, to the group's.
func (t *centrifugoTarget) connect(ctx context.Context, r *run, user, group string) (*conn, error) {
	ws, err := dialWS(ctx, "ws"+t.base[len("http"):]+"/connection/websocket", nil)
	if err != nil {
		return nil, err
	}
	cmds := []string{fmt.Sprintf(`{"id":1,"connect":{"token":%q}}`, mintHS256(t.secret, user, nil)),
		fmt.Sprintf(`{"id":2,"subscribe":{"channel":"u.%s"}}`, user)}
	if group != "" {
		cmds = append(cmds, fmt.Sprintf(`{"id":3,"subscribe":{"channel":"g.%s"}}`, group))
	}

	// One command at a time: a subscribe must follow a connect reply.
	for i, cmd := range cmds {
		if err := ws.Write(ctx, 1, []byte(cmd)); err != nil {
			ws.CloseNow()
			return nil, fmt.Errorf("centrifugo command: %w", err)
		}
		if err := awaitReply(ctx, ws, uint32(i+1)); err != nil {
			ws.CloseNow()
			return nil, err
		}
	}

	c := &conn{ws: ws, user: user, run: r}
	c.pong = func(ctx context.Context, line []byte) bool {
		if !bytes.Equal(line, []byte("{}")) {
			return false
		}
		// The server pings with an empty command and drops a client that
		// does not answer in time.
		if err := ws.Write(ctx, 1, []byte("{}")); err != nil && ctx.Err() == nil {
			r.c.fail(fmt.Errorf("centrifugo pong: %w", err))
		}
		return true
	}
	return c, nil
}

// awaitReply reads until the reply to command id arrives. Nothing else is
// sent to a client before its subscriptions are made, but a ping may be.
func awaitReply(ctx context.Context, ws *websocket.Conn, id uint32) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return fmt.Errorf("centrifugo reply %d: %w", id, err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			var rep centReply
			if json.Unmarshal(line, &rep) != nil || rep.ID != id {
				continue
			}
			if len(rep.Error) > 0 {
				return fmt.Errorf("centrifugo reply %d: %s", id, rep.Error)
			}
			return nil
		}
	}
}

func (t *centrifugoTarget) publish(ctx context.Context, channel string, body string) error {
	var buf [256]byte
	b := append(buf[:0], `{"channel":`...)
	b = appendJSONString(b, channel)
	b = append(b, `,"data":{"b":`...)
	b = appendJSONString(b, body)
	b = append(b, "}}"...)
	return t.send.post(ctx, "/api/publish", t.keyLine, b, checkPublish)
}

// checkPublish and checkBroadcast check the answers of Centrifugo's
// server API, which refuses a call with status 200 and an error object in
// place of the result; a broadcast answers for each channel, and each
// answer may hold an error.
var (
	checkPublish   = apiCheck("publish", `{"result":{}}`)
	checkBroadcast = apiCheck("broadcast", `{"result":{"responses":[{"result":{}},{"result":{}}]}}`)
)

// apiCheck returns the check of a call's answer; usual is the answer of
// a call that worked, accepted without decoding.
func apiCheck(call, usual string) func(status int, body []byte) error {
	return func(status int, body []byte) error {
		if status != http.StatusOK {
			return fmt.Errorf("status %d: %.200s", status, body)
		}
		if string(body) == usual {
			return nil
		}
		var rep struct {
			Error  json.RawMessage `json:"error"`
			Result struct {
				Responses []centReply `json:"responses"`
			} `json:"result"`
		}
		if err := json.Unmarshal(body, &rep); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		if len(rep.Error) > 0 {
			return fmt.Errorf("%s: %s", call, rep.Error)
		}
		for _, r := range rep.Result.Responses {
			if len(r.Error) > 0 {
				return fmt.Errorf("%s: %s", call, r.Error)
			}
		}
		return nil
	}
}

// sendDM publishes to the recipient's channel or, with dmToBoth, to both
// participants' channels in one broadcast call: a chat built on Centrifugo
// that shows a sent message on the sender's other devices does that.
func (t *centrifugoTarget) sendDM(ctx context.Context, r *run, from, to string, id uint64,
	body string) error {
	var err error
	if t.dmToBoth {
		err = t.broadcast(ctx, "u."+to, "u."+from, body)
	} else {
		err = t.publish(ctx, "u."+to, body)
	}
	if err != nil {
		return err
	}
	r.ack(id, 1)
	return nil
}

func (t *centrifugoTarget) broadcast(ctx context.Context, ch1, ch2 string, body string) error {
	var buf [320]byte
	b := append(buf[:0], `{"channels":[`...)
	b = appendJSONString(b, ch1)
	b = append(b, ',')
	b = appendJSONString(b, ch2)
	b = append(b, `],"data":{"b":`...)
	b = appendJSONString(b, body)
	b = append(b, "}}"...)
	return t.send.post(ctx, "/api/broadcast", t.keyLine, b, checkBroadcast)
}

func (t *centrifugoTarget) sendGroup(ctx context.Context, r *run, _, group string, id uint64,
	body string, want int) error {
	if err := t.publish(ctx, "g."+group, body); err != nil {
		return err
	}
	r.ack(id, want)
	return nil
}

func (t *centrifugoTarget) notify(ctx context.Context, r *run, to string, id uint64, body string) error {
	data, _ := json.Marshal(map[string]string{"b": body})
	rec := &parley.Record{Topic: t.topic, Key: []byte(to), Value: data,
		Headers: []parley.Header{{Key: "centrifugo-channels", Value: []byte("u." + to)}}}
	if err := t.kafka.Produce(ctx, rec); err != nil {
		return err
	}
	r.ack(id, 1)
	return nil
}

// setupGroup has nothing to do: a Centrifugo channel exists while someone
// is subscribed.
func (t *centrifugoTarget) setupGroup(context.Context, string, string, []string) error { return nil }

func (t *centrifugoTarget) waitGroup(context.Context, string, string, int) error { return nil }
