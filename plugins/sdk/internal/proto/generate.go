// Package proto holds the gRPC protocol between tap and its sink plugins,
// generated from sink.proto. Regenerate with "go generate" in this
// directory (needs protoc, protoc-gen-go and protoc-gen-go-grpc).
package proto

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative sink.proto
