package echo

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// Call sends one UnaryCall over cc and returns the id of the backend that
// answered it.
func Call(ctx context.Context, cc grpc.ClientConnInterface) (string, error) {
	resp, err := testgrpc.NewTestServiceClient(cc).UnaryCall(ctx, &testgrpc.SimpleRequest{FillServerId: true})
	if err != nil {
		return "", fmt.Errorf("echo: unary call: %w", err)
	}
	return resp.GetServerId(), nil
}

// Spread sends n sequential UnaryCalls over cc and counts the answers per
// backend id. Failed RPCs are counted, not returned, because a demo or test
// wants to see them as part of the spread; the error is non-nil only when
// ctx ends before all n calls were made.
func Spread(ctx context.Context, cc grpc.ClientConnInterface, n int) (map[string]int, int, error) {
	counts := make(map[string]int)
	failed := 0
	for range n {
		if err := ctx.Err(); err != nil {
			return counts, failed, fmt.Errorf("echo: spread interrupted: %w", err)
		}
		id, err := Call(ctx, cc)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return counts, failed, fmt.Errorf("echo: spread interrupted: %w", ctxErr)
			}
			failed++
			continue
		}
		counts[id]++
	}
	return counts, failed, nil
}
