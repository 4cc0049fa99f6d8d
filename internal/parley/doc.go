// Package parley holds Parley's domain: users, conversations, messages,
// groups and notifications, the records they become on Kafka, the errors a
// caller can branch on, and the interfaces the core needs from the outside
// world (the store and the log).
//
// The package imports no driver, client or transport. Kafka lives behind Log
// (package kafka implements it with franz-go), history behind Store (packages
// sqlite and postgres), and the HTTP, WebSocket and SSE front end (package
// api) calls the Service defined here.
package parley
