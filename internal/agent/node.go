package agent

import (
	"bufio"
	"context"
	"fmt"
	"github.com/berth-dev/berth/internal/nodeapi"
	"net"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// LabelDriver on a Node names the runtime driver of its agent.
const LabelDriver = "berth.io/driver"

// leaseDuration is the node Lease's duration; it is renewed every
// leaseDuration/4, like the kubelet.
const leaseDuration = 40 * time.Second

// capacity returns the node's capacity: CPUs, memory, ephemeral storage of
// dataDir's file system and the pod limit.
func capacity(dataDir string, maxPods int) corev1.ResourceList {
	rl := corev1.ResourceList{
		corev1.ResourceCPU:  *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
		corev1.ResourcePods: *resource.NewQuantity(int64(maxPods), resource.DecimalSI),
	}
	if mem, err := memTotal(); err == nil {
		rl[corev1.ResourceMemory] = *resource.NewQuantity(mem, resource.BinarySI)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dataDir, &st); err == nil {
		rl[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(int64(st.Blocks)*st.Bsize, resource.BinarySI)
	}
	return rl
}

// memTotal reads MemTotal from /proc/meminfo.
func memTotal() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("agent: no MemTotal in /proc/meminfo")
}

// allocatable is capacity minus reserved (never below zero).
func allocatable(capacity, reserved corev1.ResourceList) corev1.ResourceList {
	out := capacity.DeepCopy()
	for name, r := range reserved {
		if q, ok := out[name]; ok {
			q.Sub(r)
			if q.Sign() < 0 {
				q = resource.MustParse("0")
			}
			out[name] = q
		}
	}
	return out
}

// nodeIP returns the address the node is reached at: the source address
// of its default route, else the first IPv4 address of a real interface.
func nodeIP() string {
	// The source address of the default route: what other machines see.
	// (Connecting a UDP socket sends nothing.)
	if c, err := net.Dial("udp4", "192.0.2.1:9"); err == nil {
		ip := c.LocalAddr().(*net.UDPAddr).IP
		c.Close()
		if !ip.IsLoopback() && !ip.IsUnspecified() {
			return ip.String()
		}
	}
	// No default route: the first IPv4 address of an interface that is up
	// and not a loopback (whose addresses include the ClusterIPs the
	// service proxy assigns), a pod bridge or a veth.
	ifaces, err := net.Interfaces()
	if err != nil {
		return "127.0.0.1"
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagLoopback != 0 || ifc.Flags&net.FlagUp == 0 ||
			strings.HasPrefix(ifc.Name, "berth") || strings.HasPrefix(ifc.Name, "veth") || strings.HasPrefix(ifc.Name, "docker") {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// nodeObject is the Node this agent registers.
func (a *Agent) nodeObject() *corev1.Node {
	host, _ := os.Hostname()
	labels := map[string]string{
		corev1.LabelHostname: a.cfg.NodeName, corev1.LabelOSStable: goruntime.GOOS, corev1.LabelArchStable: goruntime.GOARCH,
		LabelDriver: a.cfg.DriverName, nodeapi.LabelPodNetwork: a.podNetwork(),
	}
	for k, v := range a.cfg.Labels {
		labels[k] = v
	}
	var annotations map[string]string
	if a.certFP != "" {
		annotations = map[string]string{nodeapi.CertAnnotation: a.certFP}
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Labels: labels, Annotations: annotations},
		Status: corev1.NodeStatus{
			Capacity: a.capacity, Allocatable: a.allocatable,
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: a.ip}, {Type: corev1.NodeHostName, Address: host}},
			NodeInfo: corev1.NodeSystemInfo{
				OperatingSystem: goruntime.GOOS, Architecture: goruntime.GOARCH,
				KubeletVersion: "berth-" + a.cfg.Version, ContainerRuntimeVersion: a.cfg.DriverName + "://" + a.cfg.Version,
				KernelVersion: kernelVersion(),
			},
			Conditions:      a.conditions(metav1.Now()),
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(a.port)}},
		},
	}
}

// podNetwork is the node's nodeapi.LabelPodNetwork value.
func (a *Agent) podNetwork() string {
	if a.cfg.HostNetworkReason != "" {
		return nodeapi.PodNetworkHost
	}
	return nodeapi.PodNetworkPod
}

// labelPodNetwork sets the node's nodeapi.LabelPodNetwork once the driver
// (and so whether pods get their own network) is known: the scheduler
// treats container ports as host ports on host-network nodes.
func (a *Agent) labelPodNetwork(ctx context.Context) error {
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, nodeapi.LabelPodNetwork, a.podNetwork())
	if _, err := a.cfg.Client.CoreV1().Nodes().Patch(ctx, a.cfg.NodeName, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("agent: label node %s: %w", a.cfg.NodeName, err)
	}
	return nil
}

func kernelVersion() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// conditions are the node conditions the agent reports.
func (a *Agent) conditions(now metav1.Time) []corev1.NodeCondition {
	msg := "berth agent is posting ready status"
	if a.cfg.HostNetworkReason != "" {
		msg += "; pods use the host network: " + a.cfg.HostNetworkReason
	}
	c := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, m string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: m, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	return []corev1.NodeCondition{
		c(corev1.NodeReady, corev1.ConditionTrue, "AgentReady", msg),
		c(corev1.NodeMemoryPressure, corev1.ConditionFalse, "AgentHasSufficientMemory", "agent has sufficient memory available"),
		c(corev1.NodeDiskPressure, corev1.ConditionFalse, "AgentHasNoDiskPressure", "agent has no disk pressure"),
		c(corev1.NodePIDPressure, corev1.ConditionFalse, "AgentHasSufficientPID", "agent has sufficient PID available"),
	}
}

// register creates the Node, or updates labels, capacity, addresses and
// conditions of an existing one (an agent restart).
func (a *Agent) register(ctx context.Context) error {
	want := a.nodeObject()
	nodes := a.cfg.Client.CoreV1().Nodes()
	_, err := nodes.Create(ctx, want, metav1.CreateOptions{})
	if err == nil {
		a.log.Info("node registered", "node", want.Name, "ip", a.ip)
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("agent: register node %s: %w", want.Name, err)
	}
	cur, err := nodes.Get(ctx, want.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("agent: register node %s: %w", want.Name, err)
	}
	if cur.Labels == nil {
		cur.Labels = map[string]string{}
	}
	for k, v := range want.Labels {
		cur.Labels[k] = v
	}
	if cur.Annotations == nil {
		cur.Annotations = map[string]string{}
	}
	delete(cur.Annotations, nodeapi.CertAnnotation)
	for k, v := range want.Annotations {
		cur.Annotations[k] = v
	}
	if uncordonAfterDrain(cur) {
		a.log.Info("uncordoning the node, which the agent cordoned when it drained on exit")
	}
	if cur, err = nodes.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("agent: register node %s: %w", want.Name, err)
	}
	cur.Status.Capacity, cur.Status.Allocatable = want.Status.Capacity, want.Status.Allocatable
	cur.Status.Addresses, cur.Status.NodeInfo, cur.Status.Conditions = want.Status.Addresses, want.Status.NodeInfo, want.Status.Conditions
	cur.Status.DaemonEndpoints = want.Status.DaemonEndpoints
	if _, err := nodes.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("agent: register node %s: status: %w", want.Name, err)
	}
	a.log.Info("node re-registered", "node", want.Name, "ip", a.ip)
	return nil
}

// heartbeat renews the node Lease every leaseDuration/4 and the node's
// conditions every statusEvery, until ctx is done.
func (a *Agent) heartbeat(ctx context.Context, statusEvery time.Duration) {
	leases := a.cfg.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	renew := func() {
		now := metav1.NewMicroTime(time.Now())
		secs := int32(leaseDuration / time.Second)
		l, err := leases.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Namespace: corev1.NamespaceNodeLease},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: &a.cfg.NodeName, LeaseDurationSeconds: &secs, RenewTime: &now}}
			_, err = leases.Create(ctx, l, metav1.CreateOptions{})
		} else if err == nil {
			l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = &a.cfg.NodeName, &secs, &now
			_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		}
		if err != nil && ctx.Err() == nil {
			a.log.Warn("cannot renew node lease", "err", err)
		}
	}
	status := func() {
		n, err := a.cfg.Client.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("cannot read node", "err", err)
			}
			return
		}
		now := metav1.Now()
		fresh := a.conditions(now)
		for i := range fresh {
			for _, old := range n.Status.Conditions {
				if old.Type == fresh[i].Type && old.Status == fresh[i].Status {
					fresh[i].LastTransitionTime = old.LastTransitionTime
				}
			}
		}
		n.Status.Conditions = fresh
		if _, err := a.cfg.Client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
			a.log.Warn("cannot update node status", "err", err)
		}
	}
	renew()
	status()
	lt := time.NewTicker(leaseDuration / 4)
	defer lt.Stop()
	st := time.NewTicker(statusEvery)
	defer st.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-lt.C:
			renew()
		case <-st.C:
			status()
		}
	}
}
