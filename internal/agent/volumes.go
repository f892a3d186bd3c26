package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/internal/agent/runtime"
	corev1 "k8s.io/api/core/v1"
)

// prepareVolumes materializes a pod's volumes under dir (one directory per
// volume): emptyDir as an empty directory, configMap and secret as one file
// per key (or per listed item), hostPath as the host path itself. It
// returns the host path of each volume by name. A missing non-optional
// ConfigMap or Secret is an error naming it.
func prepareVolumes(ctx context.Context, src objectSource, pod *corev1.Pod, dir string) (map[string]string, error) {
	paths := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		p := filepath.Join(dir, v.Name)
		switch {
		case v.EmptyDir != nil:
			if err := os.MkdirAll(p, 0o777); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
		case v.HostPath != nil:
			p = v.HostPath.Path
			if t := v.HostPath.Type; t != nil && (*t == corev1.HostPathDirectoryOrCreate) {
				if err := os.MkdirAll(p, 0o755); err != nil {
					return nil, fmt.Errorf("volume %s: hostPath %s: %w", v.Name, p, err)
				}
			}
		case v.ConfigMap != nil:
			cm, err := src.configMap(ctx, pod.Namespace, v.ConfigMap.Name)
			if err != nil {
				if optional(v.ConfigMap.Optional) {
					if err := os.MkdirAll(p, 0o755); err != nil {
						return nil, err
					}
					break
				}
				return nil, fmt.Errorf("volume %s: configMap %q: %w", v.Name, v.ConfigMap.Name, err)
			}
			data := map[string][]byte{}
			for k, s := range cm.Data {
				data[k] = []byte(s)
			}
			for k, b := range cm.BinaryData {
				data[k] = b
			}
			if err := writeKeys(p, data, v.ConfigMap.Items, mode(v.ConfigMap.DefaultMode, 0o644)); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
		case v.Secret != nil:
			s, err := src.secret(ctx, pod.Namespace, v.Secret.SecretName)
			if err != nil {
				if optional(v.Secret.Optional) {
					if err := os.MkdirAll(p, 0o755); err != nil {
						return nil, err
					}
					break
				}
				return nil, fmt.Errorf("volume %s: secret %q: %w", v.Name, v.Secret.SecretName, err)
			}
			if err := writeKeys(p, s.Data, v.Secret.Items, mode(v.Secret.DefaultMode, 0o644)); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
		default:
			return nil, fmt.Errorf("volume %s: this volume type is not supported by the agent (supported: emptyDir, configMap, secret, hostPath)", v.Name)
		}
		paths[v.Name] = p
	}
	return paths, nil
}

func mode(m *int32, def os.FileMode) os.FileMode {
	if m != nil {
		return os.FileMode(*m) & 0o777
	}
	return def
}

// writeKeys replaces dir's content with one file per key (or per item).
func writeKeys(dir string, data map[string][]byte, items []corev1.KeyToPath, perm os.FileMode) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(rel string, b []byte, m os.FileMode) error {
		clean := filepath.Clean(rel)
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("item path %q leaves the volume", rel)
		}
		target := filepath.Join(dir, clean)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, b, m)
	}
	if len(items) == 0 {
		for k, b := range data {
			if err := write(k, b, perm); err != nil {
				return err
			}
		}
		return nil
	}
	for _, it := range items {
		b, ok := data[it.Key]
		if !ok {
			return fmt.Errorf("key %q not found", it.Key)
		}
		if err := write(it.Path, b, mode(it.Mode, perm)); err != nil {
			return err
		}
	}
	return nil
}

// containerMounts maps a container's volumeMounts onto the prepared volumes.
func containerMounts(c *corev1.Container, paths map[string]string) ([]runtime.Mount, error) {
	var out []runtime.Mount
	for _, vm := range c.VolumeMounts {
		host, ok := paths[vm.Name]
		if !ok {
			return nil, fmt.Errorf("container %s: volumeMount %q names no volume of the pod", c.Name, vm.Name)
		}
		if vm.SubPath != "" {
			host = filepath.Join(host, filepath.Clean("/"+vm.SubPath))
		}
		out = append(out, runtime.Mount{HostPath: host, ContainerPath: vm.MountPath, ReadOnly: vm.ReadOnly})
	}
	return out, nil
}
