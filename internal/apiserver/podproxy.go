package apiserver

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Pod logs and exec are served by the pod's node agent: the API server
// checks the request against the pod, then proxies it to the agent's
// endpoint (nodeapi) with its client certificate, as kube-apiserver
// proxies to the kubelet.

// podTarget is a container on a node, ready to be proxied to.
type podTarget struct {
	pod       *corev1.Pod
	container string
	agent     *url.URL // https://<node address>:<port>
	transport http.RoundTripper
}

// resolveContainer finds the pod, its container (defaulted when the pod
// has only one) and its node's agent.
func (s *Server) resolveContainer(q *request, container string) (*podTarget, error) {
	if s.cfg.AgentTLS == nil {
		return nil, apierrors.NewServiceUnavailable("this server has no credentials for node agents")
	}
	obj, _, err := s.getObject(q.r.Context(), q.res, q.namespace, q.name)
	if err != nil {
		return nil, err
	}
	pod := obj.(*corev1.Pod)
	if container == "" {
		switch len(pod.Spec.Containers) {
		case 1:
			container = pod.Spec.Containers[0].Name
		default:
			names := make([]string, 0, len(pod.Spec.Containers))
			for _, c := range pod.Spec.Containers {
				names = append(names, c.Name)
			}
			msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", pod.Name, names)
			if len(pod.Spec.InitContainers) > 0 {
				inits := make([]string, 0, len(pod.Spec.InitContainers))
				for _, c := range pod.Spec.InitContainers {
					inits = append(inits, c.Name)
				}
				msg += fmt.Sprintf(" or one of the init containers: %v", inits)
			}
			return nil, apierrors.NewBadRequest(msg)
		}
	}
	if !podHasContainer(pod, container) {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", container, pod.Name))
	}
	if pod.Spec.NodeName == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
	}
	nodes := s.storage[schema.GroupResource{Resource: "nodes"}]
	nobj, _, err := s.getObject(q.r.Context(), nodes, "", pod.Spec.NodeName)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s is on node %s, which cannot be read: %v", pod.Name, pod.Spec.NodeName, err))
	}
	u, err := agentURL(nobj.(*corev1.Node))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s: %v", pod.Name, err))
	}
	rt, err := s.transportFor(nobj.(*corev1.Node))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s: %v", pod.Name, err))
	}
	return &podTarget{pod: pod, container: container, agent: u, transport: rt}, nil
}

// agentURL is the base URL of a node's agent endpoint.
func agentURL(n *corev1.Node) (*url.URL, error) {
	addr := ""
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName} {
		for _, a := range n.Status.Addresses {
			if a.Type == t && addr == "" {
				addr = a.Address
			}
		}
	}
	if addr == "" {
		return nil, fmt.Errorf("node %s reports no address", n.Name)
	}
	port := int(n.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port == 0 {
		port = nodeapi.DefaultPort
	}
	return &url.URL{Scheme: "https", Host: net.JoinHostPort(addr, strconv.Itoa(port))}, nil
}

func podHasContainer(pod *corev1.Pod, name string) bool {
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			if c.Name == name {
				return true
			}
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// agentUnavailable is the error for an agent that did not answer: a 500,
// as kube-apiserver's for an unreachable kubelet (a 503 would make clients
// retry for a while).
func agentUnavailable(pod *corev1.Pod, u *url.URL, err error) error {
	return apierrors.NewInternalError(fmt.Errorf("the agent of node %s at %s did not answer: %w", pod.Spec.NodeName, u.Host, err))
}

// serveLog answers GET pods/<name>/log by streaming the agent's answer.
func (s *Server) serveLog(q *request) error {
	if q.verb != "get" {
		return apierrors.NewMethodNotSupported(q.gr(), q.r.Method)
	}
	query := q.r.URL.Query()
	// Validated here so that bad input never reaches a node.
	if _, _, err := nodeapi.LogOptionsFromQuery(query, time.Now()); err != nil {
		return err
	}
	t, err := s.resolveContainer(q, query.Get("container"))
	if err != nil {
		return err
	}
	fwd := url.Values{}
	for _, k := range []string{"follow", "previous", "sinceSeconds", "sinceTime", "timestamps", "tailLines", "limitBytes"} {
		if v := query.Get(k); v != "" {
			fwd.Set(k, v)
		}
	}
	u := *t.agent
	u.Path = nodeapi.ContainerPath(nodeapi.ContainerLogsPrefix, t.pod.Namespace, t.pod.Name, t.container)
	u.RawPath = u.Path
	u.RawQuery = fwd.Encode()
	req, err := http.NewRequestWithContext(q.r.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	resp, err := (&http.Client{Transport: t.transport}).Do(req)
	if err != nil {
		return agentUnavailable(t.pod, t.agent, err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		q.w.Header().Set("Content-Type", ct)
	}
	q.w.WriteHeader(resp.StatusCode)
	flusher, _ := q.w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := q.w.Write(buf[:n]); werr != nil {
				return nil // the client went away
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err != nil {
			if err != io.EOF && q.r.Context().Err() == nil {
				s.log.Debug("log stream from agent ended", "pod", q.namespace+"/"+q.name, "err", err)
			}
			return nil
		}
	}
}

// serveExec answers pods/<name>/exec (GET or POST with a WebSocket
// upgrade) by proxying the connection to the agent.
func (s *Server) serveExec(q *request) error {
	if q.verb != "get" && q.verb != "create" {
		return apierrors.NewMethodNotSupported(q.gr(), q.r.Method)
	}
	query := q.r.URL.Query()
	opts, err := nodeapi.ExecOptionsFromQuery(query)
	if err != nil {
		return err
	}
	t, err := s.resolveContainer(q, query.Get("container"))
	if err != nil {
		return err
	}
	if p := t.pod.Status.Phase; p == corev1.PodSucceeded || p == corev1.PodFailed {
		return apierrors.NewBadRequest(fmt.Sprintf("cannot exec into a container in a completed pod; current phase is %s", p))
	}
	fwd := url.Values{"command": opts.Command}
	for k, v := range map[string]bool{"stdin": opts.Stdin, "stdout": opts.Stdout, "stderr": opts.Stderr} {
		if v {
			fwd.Set(k, "true")
		}
	}
	target := *t.agent
	target.Path = nodeapi.ContainerPath(nodeapi.ExecPrefix, t.pod.Namespace, t.pod.Name, t.container)
	target.RawPath = target.Path
	target.RawQuery = fwd.Encode()
	var proxyErr error
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = &target
			pr.Out.Host = target.Host
			pr.Out.Header.Del("Authorization") // the user's token stays here
		},
		Transport:     t.transport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			proxyErr = err
		},
	}
	proxy.ServeHTTP(q.w, q.r)
	if proxyErr != nil && q.r.Context().Err() == nil {
		return agentUnavailable(t.pod, t.agent, proxyErr)
	}
	return nil
}

// serveNodeProxy answers GET nodes/<name>/proxy/<path> for the agent paths
// nodeapi.ProxyPaths (the agent's Prometheus metrics, its resource
// metrics document, its health), streaming the agent's answer.
func (s *Server) serveNodeProxy(q *request) error {
	if q.verb != "get" {
		return apierrors.NewMethodNotSupported(q.gr(), q.r.Method)
	}
	if !slices.Contains(nodeapi.ProxyPaths, q.subpath) {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "nodes/proxy"}, q.name+q.subpath)
	}
	if s.cfg.AgentTLS == nil {
		return apierrors.NewServiceUnavailable("this server has no credentials for node agents")
	}
	obj, _, err := s.getObject(q.r.Context(), q.res, "", q.name)
	if err != nil {
		return err
	}
	node := obj.(*corev1.Node)
	u, err := agentURL(node)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	rt, err := s.transportFor(node)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	u.Path = q.subpath
	req, err := http.NewRequestWithContext(q.r.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("the agent of node %s at %s did not answer: %w", node.Name, u.Host, err))
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		q.w.Header().Set("Content-Type", ct)
	}
	q.w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(q.w, resp.Body)
	return nil
}
