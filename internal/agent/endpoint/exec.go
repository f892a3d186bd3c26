package endpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/gorilla/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The remote-command sub-protocols spoken, preferred first.
const (
	protocolV5 = "v5.channel.k8s.io"
	protocolV4 = "v4.channel.k8s.io"
)

// Channel numbers of the remote-command protocols: the first byte of every
// binary message.
const (
	chanStdin  = 0
	chanStdout = 1
	chanStderr = 2
	chanError  = 3
	chanResize = 4
	// chanClose (v5) carries the number of a channel the peer closed.
	chanClose = 255
)

var upgrader = websocket.Upgrader{
	Subprotocols:    []string{protocolV5, protocolV4},
	ReadBufferSize:  32 << 10,
	WriteBufferSize: 32 << 10,
	// The caller is the API server (checked by certificate), which
	// forwards the user's Origin header.
	CheckOrigin: func(*http.Request) bool { return true },
}

// serveExec answers GET/POST /exec/<ns>/<pod>/<container> with a WebSocket.
func (s *Server) serveExec(w http.ResponseWriter, r *http.Request) {
	ns, pod, container, err := containerOf(nodeapi.ExecPrefix, r.URL)
	if err != nil {
		writeStatus(w, err)
		return
	}
	opts, err := nodeapi.ExecOptionsFromQuery(r.URL.Query())
	if err != nil {
		writeStatus(w, err)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		writeStatus(w, apierrors.NewBadRequest("exec needs a WebSocket upgrade with protocol "+protocolV5+" or "+protocolV4+
			" (kubectl 1.30 or later); SPDY is not supported"))
		return
	}
	offered := websocket.Subprotocols(r)
	if !slices.Contains(offered, protocolV5) && !slices.Contains(offered, protocolV4) {
		writeStatus(w, apierrors.NewBadRequest(fmt.Sprintf("none of the offered protocols %v is supported: want %s or %s", offered, protocolV5, protocolV4)))
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.log.Debug("exec: upgrade failed", "err", err)
		return // the upgrader answered the client
	}
	defer conn.Close()
	s.exec(r.Context(), conn, ns, pod, container, opts)
}

// exec runs one command over an upgraded connection.
func (s *Server) exec(ctx context.Context, conn *websocket.Conn, ns, pod, container string, opts nodeapi.ExecOptions) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &channelWriter{conn: conn}
	var stdin io.Reader
	stdinR, stdinW := io.Pipe()
	if opts.Stdin {
		stdin = stdinR
	}
	// The reader owns the read side of the connection: it feeds stdin,
	// answers pings and notices the client going away.
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer stdinW.Close()
		for {
			typ, msg, err := conn.ReadMessage()
			if err != nil {
				cancel()
				return
			}
			if typ != websocket.BinaryMessage || len(msg) == 0 {
				continue
			}
			switch msg[0] {
			case chanStdin:
				if _, err := stdinW.Write(msg[1:]); err != nil {
					continue // the command stopped reading stdin
				}
			case chanClose:
				if len(msg) > 1 && msg[1] == chanStdin {
					_ = stdinW.Close()
				}
			case chanResize:
				// No TTY: nothing to resize.
			}
		}
	}()
	var stdout, stderr io.Writer
	if opts.Stdout {
		stdout = out.channel(chanStdout)
	}
	if opts.Stderr {
		stderr = out.channel(chanStderr)
	}
	code, err := s.cfg.Backend.Exec(ctx, ns, pod, container, opts.Command, stdin, stdout, stderr)
	_ = stdinR.Close()
	status := metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess}
	switch {
	case err != nil:
		status.Status, status.Reason, status.Message = metav1.StatusFailure, metav1.StatusReasonInternalError, err.Error()
		var st apierrors.APIStatus
		if errors.As(err, &st) {
			status = st.Status()
			status.Kind, status.APIVersion = "Status", "v1"
		}
	case code != 0:
		status.Status, status.Reason = metav1.StatusFailure, "NonZeroExitCode"
		status.Message = fmt.Sprintf("command terminated with non-zero exit code: %d", code)
		status.Details = &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "ExitCode", Message: strconv.Itoa(code)}}}
	}
	body, _ := json.Marshal(&status)
	_, _ = out.channel(chanError).Write(body)
	out.mu.Lock()
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(5*time.Second))
	out.mu.Unlock()
	// Give the client a moment to read everything and close its side.
	select {
	case <-readerDone:
	case <-time.After(5 * time.Second):
	}
}

// channelWriter serializes writes of several channels onto one connection.
type channelWriter struct {
	mu   sync.Mutex
	conn *websocket.Conn
}

func (c *channelWriter) channel(id byte) io.Writer { return channelStream{c, id} }

type channelStream struct {
	c  *channelWriter
	id byte
}

func (s channelStream) Write(p []byte) (int, error) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	_ = s.c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	w, err := s.c.conn.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return 0, err
	}
	if _, err := w.Write([]byte{s.id}); err != nil {
		return 0, err
	}
	n, err := w.Write(p)
	if err != nil {
		return n, err
	}
	return n, w.Close()
}
