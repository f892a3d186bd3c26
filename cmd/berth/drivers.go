package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/agent/runtime/docker"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// chooseDriver resolves --driver: "auto" is docker when the Docker daemon
// answers within two seconds, else process.
func chooseDriver(flag string) (string, error) {
	switch flag {
	case "docker", "process":
		return flag, nil
	case "auto":
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if d, err := docker.New(ctx, docker.Config{Logger: slog.New(slog.DiscardHandler)}); err == nil {
			_ = d.Close()
			return "docker", nil
		}
		return "process", nil
	}
	return "", fmt.Errorf("--driver %q: want docker, process or auto", flag)
}

// waitPodCIDR returns the node's podCIDR, waiting up to 30 s for the
// server to assign one ("" if it did not).
func waitPodCIDR(ctx context.Context, client kubernetes.Interface, node *corev1.Node) (string, error) {
	cidr := node.Spec.PodCIDR
	for deadline := time.Now().Add(30 * time.Second); cidr == "" && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		if n, err := client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{}); err == nil {
			cidr = n.Spec.PodCIDR
		}
	}
	return cidr, nil
}

// newDockerDriver builds the docker driver with the node's podCIDR as its
// network's subnet (pod IPs reachable from the node).
func newDockerDriver(ctx context.Context, client kubernetes.Interface, node *corev1.Node, logger *slog.Logger) (runtime.Driver, string, error) {
	cidr, err := waitPodCIDR(ctx, client, node)
	if err != nil {
		return nil, "", err
	}
	cfg := docker.Config{NodeName: node.Name, Logger: logger}
	if cidr == "" {
		logger.Warn("the server assigned no podCIDR to the node: Docker picks the pods' subnet, pod IPs mean nothing off this node")
	} else if p, err := netip.ParsePrefix(cidr); err != nil {
		return nil, "", fmt.Errorf("node %s: podCIDR %q: %w", node.Name, cidr, err)
	} else {
		cfg.PodCIDR = p.Masked()
	}
	d, err := docker.New(ctx, cfg)
	if err != nil {
		return nil, "", err
	}
	return d, "", nil
}
