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
// Subcommands for tests that run in images without a shell:
//
//	webapp fetch URL    a tiny HTTP client (prints the body; exit status 1 on errors),
//	                    to reach Services from inside a pod
//	webapp alloc MiB    allocates and touches MiB of memory, then sleeps (OOM tests)
//	webapp burn         spins on one CPU forever (CPU limit tests)
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) >= 2 {
		switch {
		case os.Args[1] == "fetch" && len(os.Args) == 3:
			os.Exit(fetch(os.Args[2]))
		case os.Args[1] == "alloc" && len(os.Args) == 3:
			os.Exit(alloc(os.Args[2]))
		case os.Args[1] == "burn":
			for {
			}
		}
	}
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

// fetch GETs url and prints the body.
func fetch(url string) int {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, resp.Status, err)
		return 1
	}
	return 0
}

// alloc allocates and touches mib MiB, then sleeps until killed.
var held [][]byte

func alloc(mib string) int {
	n, err := strconv.Atoi(mib)
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "alloc: want a number of MiB")
		return 2
	}
	for i := 0; i < n; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = byte(j)
		}
		held = append(held, b)
	}
	fmt.Printf("allocated %d MiB\n", n)
	select {}
}
