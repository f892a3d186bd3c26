package docker

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// testRegistry is a minimal Docker Registry HTTP API v2 serving one image
// (a layer with one file), optionally behind basic authentication. The
// daemon talks to it over plain HTTP, which it allows for 127.0.0.0/8.
type testRegistry struct {
	user, password string
	repo, tag      string
	// corrupt serves layers that do not match their digests (the daemon
	// then fails in the middle of the pull).
	corrupt  bool
	manifest []byte
	blobs    map[string][]byte
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func newRegistry(t *testing.T, repo, tag, user, password string) *testRegistry {
	t.Helper()
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	content := "pulled from the test registry\n"
	if err := tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write([]byte(content))
	_ = tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(layer.Bytes())
	_ = zw.Close()
	config, _ := json.Marshal(map[string]any{
		"architecture": goruntime.GOARCH, "os": "linux",
		"config": map[string]any{"Cmd": []string{"/hello.txt"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{digest(layer.Bytes())}},
	})
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.docker.distribution.manifest.v2+json",
		"config":        map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config), "digest": digest(config)},
		"layers": []map[string]any{{
			"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": gz.Len(), "digest": digest(gz.Bytes()),
		}},
	})
	return &testRegistry{
		user: user, password: password, repo: repo, tag: tag, manifest: manifest,
		blobs: map[string][]byte{digest(config): config, digest(gz.Bytes()): gz.Bytes()},
	}
}

func (r *testRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if r.user != "" {
		if u, p, ok := req.BasicAuth(); !ok || u != r.user || p != r.password {
			w.Header().Set("WWW-Authenticate", `Basic realm="berth-test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
	}
	path := req.URL.Path
	unknown := func(code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"unknown"}]}`, code)
	}
	switch {
	case path == "/v2/":
		w.WriteHeader(http.StatusOK)
	case strings.HasPrefix(path, "/v2/"+r.repo+"/manifests/"):
		ref := strings.TrimPrefix(path, "/v2/"+r.repo+"/manifests/")
		if ref != r.tag && ref != digest(r.manifest) {
			unknown("MANIFEST_UNKNOWN")
			return
		}
		w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
		w.Header().Set("Docker-Content-Digest", digest(r.manifest))
		w.Header().Set("Content-Length", fmt.Sprint(len(r.manifest)))
		if req.Method != http.MethodHead {
			_, _ = w.Write(r.manifest)
		}
	case strings.HasPrefix(path, "/v2/"+r.repo+"/blobs/"):
		b, ok := r.blobs[strings.TrimPrefix(path, "/v2/"+r.repo+"/blobs/")]
		if !ok {
			unknown("BLOB_UNKNOWN")
			return
		}
		if r.corrupt && !json.Valid(b) {
			b = bytes.Clone(b)
			b[len(b)-1] ^= 0xff
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		if req.Method != http.MethodHead {
			_, _ = w.Write(b)
		}
	default:
		unknown("NAME_UNKNOWN")
	}
}

func TestPullImage(t *testing.T) {
	e := dockerEnv(t)
	d := newDriver(t, nil)
	repo := "berth-test/pulled-" + e.runID
	open := httptest.NewServer(newRegistry(t, repo, "v1", "", ""))
	defer open.Close()
	locked := httptest.NewServer(newRegistry(t, repo, "v1", "alice", "s3cret"))
	defer locked.Close()
	broken := newRegistry(t, repo, "v1", "", "")
	broken.corrupt = true
	bad := httptest.NewServer(broken)
	defer bad.Close()
	host := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

	tests := []struct {
		name    string
		ref     string
		auth    *runtime.RegistryAuth
		wantErr string
	}{
		{name: "anonymous", ref: host(open) + "/" + repo + ":v1"},
		{name: "credentials", ref: host(locked) + "/" + repo + ":v1",
			auth: &runtime.RegistryAuth{Username: "alice", Password: "s3cret", ServerAddress: host(locked)}},
		{name: "wrong credentials", ref: host(locked) + "/" + repo + ":v1",
			auth: &runtime.RegistryAuth{Username: "alice", Password: "wrong", ServerAddress: host(locked)}, wantErr: "unauthorized"},
		{name: "no credentials", ref: host(locked) + "/" + repo + ":v1", wantErr: "credentials"},
		{name: "corrupt layer (an error in the progress stream)", ref: host(bad) + "/" + repo + ":v1", wantErr: "verification failed"},
		{name: "unknown tag", ref: host(open) + "/" + repo + ":v2", wantErr: "unknown"},
		{name: "bad reference", ref: "Not A Reference", wantErr: "invalid reference"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var lines []string
			err := d.PullImage(t.Context(), tc.ref, tc.auth, func(s string) { lines = append(lines, s) })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(strings.ToLower(err.Error()), tc.wantErr) {
					t.Errorf("PullImage: %v, want an error with %q", err, tc.wantErr)
				}
				if ok, _ := d.ImagePresent(t.Context(), tc.ref); ok {
					t.Errorf("image present after a failed pull")
				}
				return
			}
			if err != nil {
				t.Fatalf("PullImage: %v (progress %q)", err, lines)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_, _ = e.cli.ImageRemove(ctx, tc.ref, client.ImageRemoveOptions{Force: true, PruneChildren: true})
			})
			if len(lines) == 0 || !strings.Contains(strings.Join(lines, "\n"), "Status:") {
				t.Errorf("progress %q, want status lines", lines)
			}
			for _, l := range lines {
				if strings.Contains(l, "Downloading [") {
					t.Errorf("progress tick %q passed on", l)
				}
			}
			if ok, err := d.ImagePresent(t.Context(), tc.ref); !ok || err != nil {
				t.Errorf("ImagePresent after the pull: %v, %v", ok, err)
			}
		})
	}
}
