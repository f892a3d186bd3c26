package bench

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const (
	// bigListNamespace holds the pods of the big-list measurement.
	bigListNamespace = "bench-list"
	// bigListClients is the concurrency the pods are created with.
	bigListClients = 64
	// fullListRuns and pagedListRuns are how often each list is timed.
	fullListRuns  = 5
	pagedListRuns = 3
	// pageSize is the limit of the paged list.
	pageSize = 500
)

// podName names pod i of the big-list measurement of run runID.
func podName(runID string, i int) string { return fmt.Sprintf("pod-%s-%06d", runID, i) }

// runBigList creates n pods in bigListNamespace and times full and paged
// LISTs of that namespace.
func runBigList(ctx context.Context, cs kubernetes.Interface, log *slog.Logger, runID string, n int) (ListResult, error) {
	res := ListResult{Objects: n}
	if err := ensureNamespace(ctx, cs, bigListNamespace); err != nil {
		return res, err
	}
	pods := cs.CoreV1().Pods(bigListNamespace)
	log.Info("creating pods for the big list", "pods", n, "clients", min(bigListClients, n), "namespace", bigListNamespace)
	p, err := parallel(ctx, min(bigListClients, n), n, func(ctx context.Context, i int, _ time.Time) error {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: podName(runID, i), Labels: map[string]string{"app": "bench"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}
		_, err := pods.Create(ctx, pod, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return res, fmt.Errorf("create %d pods: %w", n, err)
	}
	res.CreateOpsPerS = p.stats().OpsPerS

	full := make([]float64, 0, fullListRuns)
	for run := range fullListRuns {
		log.Info("timing a full list", "run", run+1, "of", fullListRuns)
		t0 := time.Now()
		l, err := pods.List(ctx, metav1.ListOptions{})
		d := time.Since(t0)
		if err != nil {
			return res, fmt.Errorf("list %d pods: %w", n, err)
		}
		if len(l.Items) < n {
			return res, fmt.Errorf("list of namespace %s returned %d pods, want at least %d", bigListNamespace, len(l.Items), n)
		}
		full = append(full, ms(d))
	}
	slices.Sort(full)
	res.MedianMs, res.MaxMs = round(Median(full), 3), round(full[len(full)-1], 3)

	paged := make([]float64, 0, pagedListRuns)
	for run := range pagedListRuns {
		log.Info("timing a paged list", "run", run+1, "of", pagedListRuns, "limit", pageSize)
		t0 := time.Now()
		got, pages := 0, 0
		opts := metav1.ListOptions{Limit: pageSize}
		for {
			l, err := pods.List(ctx, opts)
			if err != nil {
				return res, fmt.Errorf("paged list of %d pods, page %d: %w", n, pages+1, err)
			}
			got += len(l.Items)
			pages++
			if l.Continue == "" {
				break
			}
			if pages > n/pageSize+10 {
				return res, fmt.Errorf("paged list of %d pods did not end after %d pages of %d", n, pages, pageSize)
			}
			opts.Continue = l.Continue
		}
		if got < n {
			return res, fmt.Errorf("paged list of namespace %s returned %d pods, want at least %d", bigListNamespace, got, n)
		}
		paged = append(paged, ms(time.Since(t0)))
	}
	slices.Sort(paged)
	res.PagedMedianMs = round(Median(paged), 3)
	return res, nil
}

// deleteBigList removes the pods runBigList created (for external servers,
// which outlive the benchmark).
func deleteBigList(ctx context.Context, cs kubernetes.Interface, runID string, n int) error {
	pods := cs.CoreV1().Pods(bigListNamespace)
	zero := int64(0)
	_, err := parallel(ctx, min(bigListClients, n), n, func(ctx context.Context, i int, _ time.Time) error {
		err := pods.Delete(ctx, podName(runID, i), metav1.DeleteOptions{GracePeriodSeconds: &zero})
		if apierrors.IsNotFound(err) {
			return nil // never created: the benchmark failed before it
		}
		return err
	})
	return err
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
