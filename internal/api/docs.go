package api

import _ "embed"

// openapiDoc describes every HTTP route; served at /v1/openapi.yaml.
//
//go:embed openapi.yaml
var openapiDoc []byte

// asyncapiDoc describes the WebSocket and SSE events, the client frames and
// the Kafka records; served at /v1/asyncapi.yaml.
//
//go:embed asyncapi.yaml
var asyncapiDoc []byte
