package api

import (
	"context"
	"encoding/json"

	"github.com/coder/websocket"

	"github.com/parley-chat/parley/internal/node"
	"github.com/parley-chat/parley/internal/parley"
)

// maxRefLen bounds the ref a client gives a frame.
const maxRefLen = 128

// clientFrame is a frame from the client. Type selects which other fields
// count; asyncapi.yaml describes each kind.
type clientFrame struct {
	Type string `json:"type"`
	Ref  string `json:"ref"`
	// send
	To       string `json:"to"`
	Group    string `json:"group"`
	Body     string `json:"body"`
	ClientID string `json:"client_id"`
	// read
	Conversation string `json:"conversation"`
	Cursor       string `json:"cursor"`
	Notification string `json:"notification"`
	// resume
	Stream string `json:"stream"`
}

// replyFrame answers a client frame. Message is the message of "sent";
// Error the error of "error", shaped like an HTTP error body's, so that
// "message" is always a message object in every frame.
type replyFrame struct {
	Type    string      `json:"type"`
	Ref     string      `json:"ref,omitempty"`
	Message any         `json:"message,omitempty"`
	Error   *frameError `json:"error,omitempty"`
}

// frameError is the "error" of an error frame.
type frameError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// readLoop reads client frames until the connection ends. Each frame is
// handled before the next is read, so a client's sends keep their order.
func (wc *wsConn) readLoop(ctx context.Context) {
	for {
		typ, data, err := wc.c.Read(ctx)
		if err != nil {
			wc.s.logger.Debug("websocket read ended", "user", wc.user, "err", err)
			return
		}
		reply, resume := wc.handle(ctx, typ, data)
		select {
		case wc.cmds <- command{reply: reply, resume: resume}:
			wc.wake()
		case <-ctx.Done():
			return
		}
	}
}

// handle runs one client frame and returns its reply, or the resume the
// writer must run.
func (wc *wsConn) handle(ctx context.Context, typ websocket.MessageType, data []byte) (
	[]byte, *resumeCmd) {
	if typ != websocket.MessageText {
		return errorFrame(wc.s, "", errBinaryFrame), nil
	}
	var f clientFrame
	if err := decodeJSON(data, &f); err != nil {
		return errorFrame(wc.s, "", err), nil
	}
	if len(f.Ref) > maxRefLen {
		return errorFrame(wc.s, "", errLongRef), nil
	}
	switch f.Type {
	case "send":
		return wc.send(ctx, &f), nil
	case "read":
		return wc.read(ctx, &f), nil
	case "resume":
		return wc.resume(&f)
	case "ping":
		return encodeFrame(replyFrame{Type: "pong", Ref: f.Ref}), nil
	}
	return errorFrame(wc.s, f.Ref, parley.Errorf(parley.ErrInvalid, "unknown_type",
		"frame type %q is unknown; use send, read, resume or ping", f.Type)), nil
}

var (
	errBinaryFrame = parley.Errorf(parley.ErrInvalid, "invalid_frame", "send JSON in text frames")
	errLongRef     = parley.Errorf(parley.ErrInvalid, "invalid_ref",
		"ref may have at most %d bytes", maxRefLen)
	errSendTarget = parley.Errorf(parley.ErrInvalid, "invalid_frame",
		`a send needs exactly one of "to" and "group"`)
	errReadTarget = parley.Errorf(parley.ErrInvalid, "invalid_frame",
		`a read needs "conversation" and "cursor", or "notification"`)
)

// send sends a message and returns the "sent" reply.
func (wc *wsConn) send(ctx context.Context, f *clientFrame) []byte {
	in := node.SendInput{Body: f.Body, ClientID: f.ClientID}
	var m parley.Message
	var err error
	switch {
	case (f.To == "") == (f.Group == ""):
		err = errSendTarget
	case f.To != "":
		m, err = wc.s.svc.SendDM(ctx, wc.user, f.To, in)
	default:
		m, err = wc.s.svc.SendGroup(ctx, wc.user, f.Group, in)
	}
	if err != nil {
		return errorFrame(wc.s, f.Ref, err)
	}
	return encodeFrame(replyFrame{Type: "sent", Ref: f.Ref, Message: &m})
}

// read marks a conversation or a notification read.
func (wc *wsConn) read(ctx context.Context, f *clientFrame) []byte {
	var err error
	switch {
	case f.Notification != "" && f.Conversation == "":
		err = wc.s.svc.MarkNotificationRead(ctx, wc.user, f.Notification)
	case f.Conversation != "" && f.Notification == "":
		var seq int64
		if seq, err = parseCursor(f.Cursor); err == nil {
			err = wc.s.svc.MarkRead(ctx, wc.user, f.Conversation, seq)
		}
	default:
		err = errReadTarget
	}
	if err != nil {
		return errorFrame(wc.s, f.Ref, err)
	}
	return okFrame(f.Ref)
}

// resume checks the cursor; the writer swaps the subscription.
func (wc *wsConn) resume(f *clientFrame) ([]byte, *resumeCmd) {
	from, err := parley.ParseStreamCursor(f.Stream)
	if err != nil {
		return errorFrame(wc.s, f.Ref, err), nil
	}
	return nil, &resumeCmd{ref: f.Ref, from: from}
}

func okFrame(ref string) []byte { return encodeFrame(replyFrame{Type: "ok", Ref: ref}) }

// errorFrame returns the error reply for err, through the same catalogue as
// HTTP errors. Internal errors are logged, not shown.
func errorFrame(s *Server, ref string, err error) []byte {
	pe, status := classify(err)
	if status >= 500 && pe == errInternal {
		s.logger.Error("websocket frame failed", "route", "/v1/ws", "err", err)
	}
	return encodeFrame(replyFrame{Type: "error", Ref: ref, Error: &frameError{pe.Code, pe.Message}})
}

func encodeFrame(f replyFrame) []byte {
	b, _ := json.Marshal(f)
	return b
}
