// Command compress compresses one image with pixpress over gRPC:
//
//	compress INPUT OUTPUT [QUALITY]
//
// PIXPRESS_API_KEY is the key (`pixpress-server keys create`); PIXPRESS_SERVER is host:port
// (default localhost:50051). The stubs are generated from the .proto files (this repository's
// proto/, or the `proto` folder the pixpress wheel installs beside pixpress/__init__.py):
//
//	go generate && go mod tidy && go run . photo.jpg photo.min.jpg 75
package main

//go:generate protoc -I ../../proto --go_out=. --go_opt=module=pixpress.dev/go --go-grpc_out=. --go-grpc_opt=module=pixpress.dev/go ../../proto/pixpress/v1/actions.proto ../../proto/pixpress/v1/assets.proto ../../proto/pixpress/v1/compress.proto ../../proto/pixpress/v1/image.proto ../../proto/pixpress/v1/routes.proto

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pixpressv1 "pixpress.dev/go/pixpress/v1"
)

// chunkBytes is well under gRPC's 4 MiB message limit.
const chunkBytes = 256 * 1024

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: compress INPUT OUTPUT [QUALITY]")
		os.Exit(2)
	}
	input, output := os.Args[1], os.Args[2]
	quality := 80
	if len(os.Args) > 3 {
		var err error
		if quality, err = strconv.Atoi(os.Args[3]); err != nil {
			fmt.Fprintf(os.Stderr, "quality must be an integer, got %q\n", os.Args[3])
			os.Exit(2)
		}
	}
	result, err := compress(input, output, int32(quality))
	if err != nil {
		if s, ok := status.FromError(err); ok {
			fmt.Fprintf(os.Stderr, "%s: %s: %s\n", input, codeName(s.Code().String()), s.Message())
		} else {
			fmt.Fprintf(os.Stderr, "%s: %v\n", input, err)
		}
		os.Exit(1)
	}
	saved := 100 * (1 - float64(result.OutputSize)/float64(result.InputSize))
	fmt.Printf("%s: %s %d -> %d bytes (%.1f%% saved, quality %d, action %s)\n", input,
		result.Format, result.InputSize, result.OutputSize, saved, result.Quality, result.ActionId)
}

// compress streams INPUT to the server and the compressed image it answers to OUTPUT.
func compress(input, output string, quality int32) (*pixpressv1.CompressResult, error) {
	server := os.Getenv("PIXPRESS_SERVER")
	if server == "" {
		server = "localhost:50051"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if key := strings.TrimSpace(os.Getenv("PIXPRESS_API_KEY")); key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	}
	// grpc.WithInsecure: plain TCP, as `pixpress-server` serves without --tls-cert.
	conn, err := grpc.Dial(server, grpc.WithInsecure())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stream, err := pixpressv1.NewCompressServiceClient(conn).Compress(ctx)
	if err != nil {
		return nil, err
	}
	sent := make(chan error, 1)
	go func() {
		err := send(stream, input, quality)
		if err != nil {
			cancel() // the server waits for chunks that will not come
		}
		sent <- err
	}()

	file, err := os.Create(output)
	if err != nil {
		return nil, err
	}
	result, err := receive(stream, file)
	if closeErr := file.Close(); err == nil {
		err = closeErr
	}
	if sendErr := <-sent; sendErr != nil {
		err = sendErr // the cause: the receive side only saw the cancellation
	}
	if err != nil {
		os.Remove(output)
		return nil, err
	}
	return result, nil
}

// send writes the options first, then the image in chunks.
func send(stream pixpressv1.CompressService_CompressClient, input string, quality int32) error {
	file, err := os.Open(input)
	if err != nil {
		return err
	}
	defer file.Close()
	options := &pixpressv1.CompressOptions{Quality: &quality}
	if err := stream.Send(&pixpressv1.CompressRequest{
		Payload: &pixpressv1.CompressRequest_Options{Options: options},
	}); err != nil {
		return ignoreEOF(err)
	}
	buffer := make([]byte, chunkBytes)
	for {
		n, readErr := file.Read(buffer)
		if n > 0 {
			chunk := append([]byte(nil), buffer[:n]...)
			if err := stream.Send(&pixpressv1.CompressRequest{
				Payload: &pixpressv1.CompressRequest_Chunk{Chunk: chunk},
			}); err != nil {
				return ignoreEOF(err)
			}
		}
		if readErr == io.EOF {
			return stream.CloseSend()
		}
		if readErr != nil {
			return readErr
		}
	}
}

// receive reads the action id, the result, then the image's chunks into out.
func receive(stream pixpressv1.CompressService_CompressClient, out io.Writer) (*pixpressv1.CompressResult, error) {
	var result *pixpressv1.CompressResult
	for {
		response, err := stream.Recv()
		if err == io.EOF {
			if result == nil {
				return nil, errors.New("the server ended the stream without a result")
			}
			return result, nil
		}
		if err != nil {
			return nil, err
		}
		switch payload := response.Payload.(type) {
		case *pixpressv1.CompressResponse_ActionId:
			fmt.Fprintf(os.Stderr, "action %s\n", payload.ActionId)
		case *pixpressv1.CompressResponse_Result:
			result = payload.Result
		case *pixpressv1.CompressResponse_Chunk:
			if _, err := out.Write(payload.Chunk); err != nil {
				return nil, err
			}
		}
	}
}

// ignoreEOF: Send says io.EOF when the server has ended the call; Recv gives its status.
func ignoreEOF(err error) error {
	if err == io.EOF {
		return nil
	}
	return err
}

// codeName spells a status code as gRPC does everywhere else: InvalidArgument is
// INVALID_ARGUMENT.
func codeName(camel string) string {
	var name strings.Builder
	for i, r := range camel {
		if i > 0 && unicode.IsUpper(r) {
			name.WriteByte('_')
		}
		name.WriteRune(unicode.ToUpper(r))
	}
	return name.String()
}
