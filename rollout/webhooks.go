package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// webhookTimeout bounds one webhook call.
const webhookTimeout = 5 * time.Second

// webhooks calls a rollout's webhooks, Flagger-style: a POST of the
// rollout's state as JSON to each, every tick of a running rollout, each
// of which must answer 2xx for the rollout to go on.
type webhooks struct {
	client *http.Client
}

// newWebhooks returns a caller with webhookTimeout per call.
func newWebhooks() *webhooks {
	return &webhooks{client: &http.Client{Timeout: webhookTimeout}}
}

// check calls every webhook of st in order and returns why the first that
// failed did ("" when all answered 2xx): an error or another status.
func (w *webhooks) check(ctx context.Context, st State) string {
	if len(st.Spec.Webhooks) == 0 {
		return ""
	}
	body, err := json.Marshal(st)
	if err != nil {
		return fmt.Sprintf("webhook: encode the rollout: %v", err)
	}
	for _, url := range st.Spec.Webhooks {
		if why := w.call(ctx, url, body); why != "" {
			return why
		}
	}
	return ""
}

// call POSTs body to url and returns why it failed, or "".
func (w *webhooks) call(ctx context.Context, url string, body []byte) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Sprintf("webhook %s: %v", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Sprintf("webhook %s: %v", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Sprintf("webhook %s answered %s", url, resp.Status)
	}
	return ""
}
