// Command webapp is the example web app of Berth's examples and tests: an
// HTTP server that answers with its pod name.
//
//	GET /          "hello from <POD_NAME>\n"
//	GET /healthz   200 "ok" (503 while /healthz/fail was called last)
//	GET /healthz/fail, /healthz/ok   switch the health answer (readiness tests)
//	GET /?delay=250ms  waits before answering (latency knob for load-balancing tests);
//	                   the env var DELAY sets a default delay
//
// It listens on $PORT (default 3000) and exits cleanly on SIGTERM.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	name := os.Getenv("POD_NAME")
	if name == "" {
		name, _ = os.Hostname()
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	var defaultDelay time.Duration
	if d, err := time.ParseDuration(os.Getenv("DELAY")); err == nil {
		defaultDelay = d
	}
	var healthy atomic.Bool
	healthy.Store(true)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		delay := defaultDelay
		if d, err := time.ParseDuration(r.URL.Query().Get("delay")); err == nil {
			delay = d
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprintf(w, "hello from %s\n", name)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/healthz/fail", func(w http.ResponseWriter, r *http.Request) { healthy.Store(false); fmt.Fprintln(w, "failing") })
	mux.HandleFunc("/healthz/ok", func(w http.ResponseWriter, r *http.Request) { healthy.Store(true); fmt.Fprintln(w, "ok") })
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("webapp %s listening on :%s", name, port)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
