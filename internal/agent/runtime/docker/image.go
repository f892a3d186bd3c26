package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }
func isConflict(err error) bool { return cerrdefs.IsConflict(err) }

// imageConfig is what the driver needs of an image.
type imageConfig struct {
	ID              string
	Entrypoint, Cmd []string
}

// image inspects ref; a missing image is runtime.ErrImageNotPresent.
func (d *Driver) image(ctx context.Context, ref string) (imageConfig, error) {
	if ref == "" {
		return imageConfig{}, fmt.Errorf("docker: the container has no image")
	}
	res, err := d.cli.ImageInspect(ctx, ref)
	if isNotFound(err) {
		return imageConfig{}, fmt.Errorf("docker: image %q: %w", ref, runtime.ErrImageNotPresent)
	}
	if err != nil {
		return imageConfig{}, d.apiError(err, "inspect image %q", ref)
	}
	ic := imageConfig{ID: res.ID}
	if res.Config != nil {
		ic.Entrypoint, ic.Cmd = res.Config.Entrypoint, res.Config.Cmd
	}
	return ic, nil
}

// ImagePresent reports whether the image is on the node.
func (d *Driver) ImagePresent(ctx context.Context, ref string) (bool, error) {
	ctx, done, err := d.op(ctx)
	if err != nil {
		return false, err
	}
	defer done()
	_, err = d.image(ctx, ref)
	if errors.Is(err, runtime.ErrImageNotPresent) {
		return false, nil
	}
	return err == nil, err
}

// encodeAuth encodes credentials for the X-Registry-Auth header ("" for
// none).
func encodeAuth(auth *runtime.RegistryAuth) (string, error) {
	if auth == nil || *auth == (runtime.RegistryAuth{}) {
		return "", nil
	}
	s, err := authconfig.Encode(registry.AuthConfig{
		Username: auth.Username, Password: auth.Password,
		ServerAddress: auth.ServerAddress, IdentityToken: auth.IdentityToken,
	})
	if err != nil {
		return "", fmt.Errorf("docker: encode registry credentials: %w", err)
	}
	return s, nil
}

// PullImage pulls ref through the daemon, reading its progress stream to
// the end: an error the daemon reports in the stream (unknown manifest,
// refused credentials, a failed layer) fails the pull. progress receives
// "<id>: <status>" lines, without the download ticks.
func (d *Driver) PullImage(ctx context.Context, ref string, auth *runtime.RegistryAuth, progress func(string)) error {
	ctx, done, err := d.op(ctx)
	if err != nil {
		return err
	}
	defer done()
	enc, err := encodeAuth(auth)
	if err != nil {
		return err
	}
	resp, err := d.cli.ImagePull(ctx, ref, client.ImagePullOptions{RegistryAuth: enc})
	if err != nil {
		return d.apiError(err, "pull image %q", ref)
	}
	defer resp.Close()
	if err := readProgress(ctx, resp, progress); err != nil {
		return d.apiError(err, "pull image %q", ref)
	}
	d.log.Info("pulled image", "image", ref)
	return nil
}

// readProgress reads a JSON message stream (pull, import) to its end and
// returns the first error it reports. progress, if set, gets the status
// lines without the progress ticks.
func readProgress(ctx context.Context, r io.Reader, progress func(string)) error {
	dec := json.NewDecoder(r)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			return fmt.Errorf("read the progress stream: %w", err)
		}
		if m.Error != nil {
			return fmt.Errorf("%w", m.Error)
		}
		if progress == nil || m.Progress != nil && m.Progress.Current > 0 {
			continue
		}
		if line := progressLine(m); line != "" {
			progress(line)
		}
	}
}

// progressLine renders a status message ("" for none).
func progressLine(m jsonstream.Message) string {
	s := strings.TrimSpace(m.Status)
	if s == "" {
		s = strings.TrimSpace(m.Stream)
	}
	if s == "" {
		return ""
	}
	if m.ID != "" {
		return m.ID + ": " + s
	}
	return s
}

// ensurePause makes sure the pause image is on the node: the configured
// one must be there; the default one is generated and imported when
// missing.
func (d *Driver) ensurePause(ctx context.Context) error {
	d.pauseMu.Lock()
	defer d.pauseMu.Unlock()
	if d.pauseReady {
		return nil
	}
	ref := d.cfg.PauseImage
	_, err := d.image(ctx, ref)
	if err == nil {
		d.pauseReady = true
		return nil
	}
	if !errors.Is(err, runtime.ErrImageNotPresent) {
		return err
	}
	if ref != PauseImageRepo+":"+PauseImageVersion {
		return fmt.Errorf("docker: the pause image %q is not on the node (load or pull it first): %w", ref, runtime.ErrImageNotPresent)
	}
	v, err := d.cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return d.apiError(err, "read the daemon's architecture")
	}
	rootfs, err := pauseRootFS(v.Arch)
	if err != nil {
		return err
	}
	res, err := d.cli.ImageImport(ctx, client.ImageImportSource{Source: bytes.NewReader(rootfs), SourceName: "-"}, ref,
		client.ImageImportOptions{
			Message: "berth pause: holds a pod's namespaces",
			Changes: []string{`ENTRYPOINT ["` + pauseBinary + `"]`, `LABEL ` + LabelManaged + `="true"`},
		})
	if err != nil {
		return d.apiError(err, "import the pause image %s", ref)
	}
	err = readProgress(ctx, res, nil)
	res.Close()
	if err != nil {
		return d.apiError(err, "import the pause image %s", ref)
	}
	if _, err := d.image(ctx, ref); err != nil {
		return err
	}
	d.log.Info("imported the pause image", "image", ref, "arch", v.Arch, "bytes", len(rootfs))
	d.pauseReady = true
	return nil
}
