// Command webapp is the example web app of Berth's examples and tests: an
// HTTP server that answers with its pod name.
//
//	GET /          "hello from <POD_NAME>\n"
//	GET /healthz   200 "ok" (503 while /healthz/fail was called last)
//	GET /healthz/fail, /healthz/ok   switch the health answer (readiness tests)
//	GET /?delay=250ms  waits before answering (latency knob for load-balancing tests);
//	                   the env var DELAY sets a default delay
//	GET /?cpu=20ms     spins on a CPU that long before answering (load for cpu-based
//	                   autoscaling); the env var CPU sets a default
//
// It listens on $PORT (default 3000) and exits cleanly on SIGTERM.
// Subcommands for tests that run in images without a shell:
//
//	webapp fetch URL    a tiny HTTP client (prints the body; exit status 1 on errors),
//	                    to reach Services from inside a pod
//	webapp alloc MiB    allocates and touches MiB of memory, then sleeps (OOM tests)
//	webapp burn         spins on one CPU forever (CPU limit tests)
//	webapp load [-rps N] [-duration D] URL
//	                    a load generator: GETs URL at a constant rate (open loop) for D
//	                    (default until killed) and prints a summary every 10 s and at the end
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
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
		case os.Args[1] == "load":
			os.Exit(load(os.Args[2:]))
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
	var defaultDelay, defaultCPU time.Duration
	if d, err := time.ParseDuration(os.Getenv("DELAY")); err == nil {
		defaultDelay = d
	}
	if d, err := time.ParseDuration(os.Getenv("CPU")); err == nil {
		defaultCPU = d
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
		work := defaultCPU
		if d, err := time.ParseDuration(r.URL.Query().Get("cpu")); err == nil && d <= 10*time.Second {
			work = d
		}
		spin(work)
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

// spin keeps a CPU busy for d of wall time.
func spin(d time.Duration) {
	end := time.Now().Add(d)
	for x := 0; time.Now().Before(end); x++ {
		_ = x * x
	}
}

// load sends GET requests to a URL at a constant rate (open loop: a slow
// answer does not delay the next request) and prints what it saw.
func load(args []string) int {
	fs := flag.NewFlagSet("webapp load", flag.ContinueOnError)
	rps := fs.Float64("rps", 10, "requests per second")
	duration := fs.Duration("duration", 0, "how long to send (0: until killed)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 || *rps <= 0 {
		fmt.Fprintln(os.Stderr, "usage: webapp load [-rps N] [-duration D] URL")
		return 2
	}
	url := fs.Arg(0)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Duration(float64(time.Second) / *rps))
	defer tick.Stop()
	report := time.NewTicker(10 * time.Second)
	defer report.Stop()
	start := time.Now()
	summary := func() {
		s := time.Since(start).Seconds()
		fmt.Printf("load %s: %.0f s, %d ok (%.1f/s), %d failed\n", url, s, ok.Load(), float64(ok.Load())/s, failed.Load())
	}
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			summary()
			if ok.Load() == 0 {
				return 1
			}
			return 0
		case <-report.C:
			summary()
		case <-tick.C:
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := client.Get(url)
				if err != nil {
					failed.Add(1)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}()
		}
	}
}
