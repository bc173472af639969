// grpcgo: grpc-go's BenchmarkService server for `make bench` (bench/run.sh), the same handlers as
// grpcpp_bench_server.cc (gRPC's benchmark semantics):
//
//	UnaryCall            responds with a payload of `response_size` zero bytes
//	StreamingCall        ping-pong: one such response per request
//	StreamingFromServer  writes that response over and over until the client cancels
//	StreamingFromClient  reads every request, then responds once (to the last one)
//	StreamingBothWays    reads the first request, then writes responses while reading the rest
//
//	grpcgo --port=0 [--host=127.0.0.1] [--stats]
//
// Prints "listening PORT"; SIGINT/SIGTERM stop it gracefully ("grpcgo: stopped"; with --stats,
// first "stats: ok=N not_ok=M cancelled=C": calls that ended with grpc-status 0, with another
// status, and cancelled by the client, as bench_server --stats).
// Built offline by run.sh from Debian's golang-google-grpc-dev (GO111MODULE=off, GOPATH with
// /usr/share/gocode), with the stubs protoc-gen-go generates from grpc-proto's
// grpc/testing/benchmark_service.proto into the package h2rpcbench/grpc_testing.
// Threading: grpc-go's own goroutines; the number of CPUs used is GOMAXPROCS (run.sh sets 1).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "h2rpcbench/grpc_testing"
)

var okCalls, notOkCalls, cancelledCalls int64

// count records how a call ended: grpc-status 0, cancelled by the client, or another status
// (what --stats prints).
func count(err error) error {
	if status.Code(err) == codes.Canceled {
		atomic.AddInt64(&cancelledCalls, 1)
	} else if status.Code(err) == codes.OK {
		atomic.AddInt64(&okCalls, 1)
	} else {
		atomic.AddInt64(&notOkCalls, 1)
	}
	return err
}

type server struct {
	pb.UnimplementedBenchmarkServiceServer
}

func response(req *pb.SimpleRequest) *pb.SimpleResponse {
	r := &pb.SimpleResponse{}
	if req.GetResponseSize() > 0 {
		r.Payload = &pb.Payload{Body: make([]byte, req.GetResponseSize())}
	}
	return r
}

func (server) UnaryCall(_ context.Context, req *pb.SimpleRequest) (*pb.SimpleResponse, error) {
	count(nil)
	return response(req), nil
}

func (server) StreamingCall(s pb.BenchmarkService_StreamingCallServer) error {
	for {
		req, err := s.Recv()
		if err == io.EOF {
			return count(nil)
		}
		if err != nil {
			return count(err)
		}
		if err := s.Send(response(req)); err != nil {
			return count(err)
		}
	}
}

func (server) StreamingFromServer(req *pb.SimpleRequest, s pb.BenchmarkService_StreamingFromServerServer) error {
	r := response(req)
	for {
		if err := s.Send(r); err != nil {
			// The client cancelling is how this call ends.
			if s.Context().Err() != nil {
				return count(status.Error(codes.Canceled, "cancelled by the client"))
			}
			return count(err)
		}
	}
}

func (server) StreamingFromClient(s pb.BenchmarkService_StreamingFromClientServer) error {
	var last *pb.SimpleRequest
	for {
		req, err := s.Recv()
		if err == io.EOF {
			if last == nil {
				last = &pb.SimpleRequest{}
			}
			return count(s.SendAndClose(response(last)))
		}
		if err != nil {
			return count(err)
		}
		last = req
	}
}

func (server) StreamingBothWays(s pb.BenchmarkService_StreamingBothWaysServer) error {
	req, err := s.Recv()
	if err != nil {
		if err == io.EOF {
			return count(nil)
		}
		return count(err)
	}
	r := response(req)
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := s.Recv(); err != nil {
				done <- err
				return
			}
		}
	}()
	for {
		select {
		case err := <-done:
			if err == io.EOF {
				return count(nil)
			}
			return count(err)
		default:
		}
		if err := s.Send(r); err != nil {
			if s.Context().Err() != nil {
				return count(status.Error(codes.Canceled, "cancelled by the client"))
			}
			return count(err)
		}
	}
}

func main() {
	port := flag.Int("port", 0, "port to listen on (0 picks a free one; printed as 'listening PORT')")
	host := flag.String("host", "127.0.0.1", "address to listen on")
	stats := flag.Bool("stats", false, "at exit, print 'stats: ok=N not_ok=M' (calls by grpc-status)")
	flag.Parse()
	lis, err := net.Listen("tcp", net.JoinHostPort(*host, fmt.Sprint(*port)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "grpcgo:", err)
		os.Exit(1)
	}
	s := grpc.NewServer()
	pb.RegisterBenchmarkServiceServer(s, server{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sig; s.Stop() }()
	fmt.Printf("listening %d\n", lis.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	if err := s.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "grpcgo:", err)
		os.Exit(1)
	}
	if *stats {
		fmt.Printf("stats: ok=%d not_ok=%d cancelled=%d\n", atomic.LoadInt64(&okCalls),
			atomic.LoadInt64(&notOkCalls), atomic.LoadInt64(&cancelledCalls))
	}
	fmt.Println("grpcgo: stopped")
}
