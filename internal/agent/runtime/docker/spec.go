package docker

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// Labels the driver puts on its containers, next to the spec's labels.
// They are reserved: a spec that sets one is refused, and they are not
// reported in Sandbox.Labels or ContainerStatus.Labels.
const (
	// LabelManaged ("true") marks the containers of a Berth docker driver.
	LabelManaged = "berth.io/managed"
	// LabelNode is the node the container belongs to (Config.NodeName).
	LabelNode = "berth.io/node"
	// LabelRole is roleSandbox (an infra container) or roleContainer.
	LabelRole = "berth.io/role"
	// LabelSandbox is an app container's sandbox (its infra container's ID).
	LabelSandbox = "berth.io/sandbox"
	// LabelName is an app container's name in its pod.
	LabelName = "berth.io/name"
	// LabelHostNetwork ("true") marks a sandbox in the node's network.
	LabelHostNetwork = "berth.io/host-network"
	// LabelKeys lists the spec's label keys (a JSON array), so that the
	// labels an image adds are not reported as the spec's.
	LabelKeys = "berth.io/label-keys"
)

// Values of LabelRole.
const (
	roleSandbox   = "sandbox"
	roleContainer = "container"
)

// reservedLabels are the driver's own labels.
var reservedLabels = []string{LabelManaged, LabelNode, LabelRole, LabelSandbox, LabelName, LabelHostNetwork, LabelKeys}

// checkLabels refuses spec labels the driver reserves.
func checkLabels(labels map[string]string) error {
	for _, k := range reservedLabels {
		if _, ok := labels[k]; ok {
			return fmt.Errorf("docker: label %q is reserved by the docker driver", k)
		}
	}
	return nil
}

// withDriverLabels returns the spec's labels plus the driver's.
func withDriverLabels(spec map[string]string, node, role string, extra map[string]string) map[string]string {
	out := make(map[string]string, len(spec)+len(extra)+4)
	maps.Copy(out, spec)
	maps.Copy(out, extra)
	out[LabelManaged] = "true"
	out[LabelNode] = node
	out[LabelRole] = role
	keys, _ := json.Marshal(slices.Sorted(maps.Keys(spec))) // strings always encode
	out[LabelKeys] = string(keys)
	return out
}

// specLabels returns the spec's labels among a container's: those
// LabelKeys lists (without it, all but the driver's).
func specLabels(labels map[string]string) map[string]string {
	out := make(map[string]string, len(labels))
	var keys []string
	if err := json.Unmarshal([]byte(labels[LabelKeys]), &keys); err == nil {
		for _, k := range keys {
			if v, ok := labels[k]; ok && !slices.Contains(reservedLabels, k) {
				out[k] = v
			}
		}
		return out
	}
	for k, v := range labels {
		if !slices.Contains(reservedLabels, k) {
			out[k] = v
		}
	}
	return out
}

// owned reports whether a container with these labels is one of this
// node's, with the role.
func owned(labels map[string]string, node, role string) bool {
	return labels[LabelManaged] == "true" && labels[LabelNode] == node && labels[LabelRole] == role
}

// listFilters selects this node's containers of a role (and, with
// sandbox set, of that sandbox): Docker ANDs label filters.
func listFilters(node, role, sandbox string) client.Filters {
	f := client.Filters{}
	f.Add("label", LabelManaged+"=true", LabelNode+"="+node, LabelRole+"="+role)
	if sandbox != "" {
		f.Add("label", LabelSandbox+"="+sandbox)
	}
	return f
}

// mergeCommand combines the image's ENTRYPOINT and CMD with the pod's
// command and args as Kubernetes does: command replaces the ENTRYPOINT
// and drops the CMD; args alone replace the CMD; neither keeps both. Empty
// slices count as unset.
func mergeCommand(imageEntrypoint, imageCmd, command, args []string) (entrypoint, cmd []string) {
	switch {
	case len(command) > 0:
		return slices.Clone(command), slices.Clone(args)
	case len(args) > 0:
		return slices.Clone(imageEntrypoint), slices.Clone(args)
	default:
		return slices.Clone(imageEntrypoint), slices.Clone(imageCmd)
	}
}

// CFS settings, as the kubelet's: a 100 ms period, quotas of at least
// 1 ms; cpu.shares within [2, 262144], 2 without a request.
const (
	cfsPeriod = 100_000
	minQuota  = 1_000
	minShares = 2
	maxShares = 262_144
)

// resources converts a container's CPU and memory figures to Docker's
// (CFS quota and period for the limit, shares for the request, a memory
// limit without swap).
func resources(cpuMilliLimit, cpuMilliRequest, memoryLimitBytes int64) (container.Resources, error) {
	if cpuMilliLimit < 0 || cpuMilliRequest < 0 || memoryLimitBytes < 0 {
		return container.Resources{}, fmt.Errorf("docker: negative resources (cpu limit %dm, cpu request %dm, memory %d bytes)",
			cpuMilliLimit, cpuMilliRequest, memoryLimitBytes)
	}
	var r container.Resources
	if cpuMilliLimit > 0 {
		milli := min(cpuMilliLimit, (1<<62)/cfsPeriod)
		r.CPUPeriod = cfsPeriod
		r.CPUQuota = max(milli*cfsPeriod/1000, minQuota)
	}
	r.CPUShares = cpuShares(cpuMilliRequest)
	if memoryLimitBytes > 0 {
		r.Memory = memoryLimitBytes
		r.MemorySwap = memoryLimitBytes // no swap on top
	}
	return r, nil
}

// cpuShares converts a CPU request like the kubelet's MilliCPUToShares.
func cpuShares(milli int64) int64 {
	if milli <= 0 {
		return minShares
	}
	if milli > maxShares*1000/1024+1 {
		return maxShares
	}
	return min(max(milli*1024/1000, minShares), maxShares)
}

// mounts converts the spec's mounts to bind mounts.
func mounts(ms []runtime.Mount) ([]mount.Mount, error) {
	var out []mount.Mount
	for _, m := range ms {
		if !strings.HasPrefix(m.HostPath, "/") || !strings.HasPrefix(m.ContainerPath, "/") {
			return nil, fmt.Errorf("docker: mount %q -> %q: both paths must be absolute", m.HostPath, m.ContainerPath)
		}
		out = append(out, mount.Mount{Type: mount.TypeBind, Source: m.HostPath, Target: m.ContainerPath, ReadOnly: m.ReadOnly})
	}
	return out, nil
}

// logConfig keeps a container's output in json-file logs (which the logs
// API reads) rotated beyond maxBytes, one rotated file kept.
func logConfig(maxBytes int64) container.LogConfig {
	if maxBytes <= 0 {
		maxBytes = DefaultLogMaxBytes
	}
	return container.LogConfig{Type: "json-file", Config: map[string]string{
		"max-size": strconv.FormatInt(maxBytes, 10),
		"max-file": "2",
	}}
}

// containerName names a Docker container (names only help people reading
// `docker ps`; the driver goes by IDs and labels): berth_<node>_<namespace>_
// <pod>_<container>_<random>, with characters Docker does not allow
// replaced by "-".
func containerName(parts ...string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	parts = append([]string{"berth"}, parts...)
	parts = append(parts, hex.EncodeToString(b[:]))
	for i, p := range parts {
		parts[i] = strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
				return r
			}
			return '-'
		}, p)
		if parts[i] == "" {
			parts[i] = "-"
		}
	}
	return strings.Join(parts, "_")
}

// podNameParts returns the node, namespace and pod parts of an infra
// container's name (as containerName made it), for its app containers'
// names; for another name, the sandbox ID's first 12 digits.
func podNameParts(infraName, sandboxID string) []string {
	parts := strings.Split(strings.TrimPrefix(infraName, "/"), "_")
	if len(parts) == 6 && parts[0] == "berth" && parts[4] == "POD" {
		return parts[1:4]
	}
	return []string{sandboxID[:min(12, len(sandboxID))]}
}

// parseTime parses a Docker time (RFC 3339); Docker's "never"
// (0001-01-01T00:00:00Z) and bad input give the zero time.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

// statusOf converts an inspected container to a runtime status. A
// container whose start failed stays "created" in Docker with the error
// and an exit code; it is reported exited (started and finished when it
// was created).
func statusOf(c container.InspectResponse) runtime.ContainerStatus {
	var labels map[string]string
	if c.Config != nil {
		labels = c.Config.Labels
	}
	st := runtime.ContainerStatus{
		ID:        c.ID,
		SandboxID: labels[LabelSandbox],
		Name:      labels[LabelName],
		State:     runtime.StateUnknown,
		CreatedAt: parseTime(c.Created),
		Labels:    specLabels(labels),
	}
	s := c.State
	if s == nil {
		return st
	}
	st.StartedAt, st.FinishedAt = parseTime(s.StartedAt), parseTime(s.FinishedAt)
	switch s.Status {
	case container.StateRunning, container.StatePaused, container.StateRestarting:
		st.State, st.PID = runtime.StateRunning, s.Pid
		st.FinishedAt = time.Time{}
	case container.StateCreated:
		if s.Error == "" && s.ExitCode == 0 {
			st.State = runtime.StateCreated
			return st
		}
		st.State, st.StartedAt, st.FinishedAt = runtime.StateExited, st.CreatedAt, st.CreatedAt
		st.ExitCode = s.ExitCode
		if st.ExitCode == 0 {
			st.ExitCode = 128
		}
	case container.StateExited, container.StateDead, container.StateRemoving:
		st.State, st.ExitCode = runtime.StateExited, s.ExitCode
	default:
		return st
	}
	if st.State == runtime.StateExited {
		st.Message = s.Error
		switch {
		case s.OOMKilled:
			st.Reason = "OOMKilled"
		case st.ExitCode == 0:
			st.Reason = "Completed"
		default:
			st.Reason = "Error"
		}
		if st.StartedAt.IsZero() {
			st.StartedAt = st.CreatedAt
		}
		if st.FinishedAt.Before(st.StartedAt) {
			st.FinishedAt = st.StartedAt
		}
	}
	return st
}
