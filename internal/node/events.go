package node

import (
	"encoding/json"

	"github.com/parley-chat/parley/internal/hub"
	"github.com/parley-chat/parley/internal/parley"
)

// Event types, the "type" field of every event a client receives.
const (
	EventMessage      = "message"
	EventMember       = "member"
	EventRead         = "read"
	EventNotification = "notification"
	EventReady        = "ready"
)

// event is the JSON form of a live event. docs/protocol.md documents it.
type event struct {
	Type         string               `json:"type"`
	Message      *parley.Message      `json:"message,omitempty"`
	Notification *parley.Notification `json:"notification,omitempty"`
	Read         *readJSON            `json:"read,omitempty"`
	Stream       string               `json:"stream,omitempty"`
}

type readJSON struct {
	User         string `json:"user"`
	Conversation string `json:"conversation,omitempty"`
	Cursor       string `json:"cursor,omitempty"`
	Notification string `json:"notification,omitempty"`
	At           string `json:"at,omitempty"`
}

// delivery encodes a decoded record as an event. The stream cursor is the
// position to resume after it.
func delivery(d parley.Decoded, pos parley.Position, stream string) *hub.Delivery {
	e := event{Stream: stream}
	switch {
	case d.Message != nil:
		e.Type, e.Message = EventMessage, d.Message
		if d.Message.Type == parley.TypeMember {
			e.Type = EventMember
		}
	case d.Notification != nil:
		n := *d.Notification
		n.To = nil // recipients do not learn who else got it
		e.Type, e.Notification = EventNotification, &n
	case d.Read != nil:
		r := d.Read
		e.Type = EventRead
		e.Read = &readJSON{User: r.User, Conversation: r.Conversation, Notification: r.Notification}
		if r.Conversation != "" {
			e.Read.Cursor = parley.FormatSeq(r.Seq)
		}
		if !r.At.IsZero() {
			e.Read.At = r.At.UTC().Format("2006-01-02T15:04:05.999Z07:00")
		}
	}
	data, _ := json.Marshal(e)
	return &hub.Delivery{Data: data, Stream: stream, Pos: pos}
}

// readyDelivery tells the client it is live, from stream on.
func readyDelivery(stream string) *hub.Delivery {
	data, _ := json.Marshal(event{Type: EventReady, Stream: stream})
	return &hub.Delivery{Data: data, Stream: stream}
}
