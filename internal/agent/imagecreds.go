package agent

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// registryCred is one registry's credentials from an image pull secret.
type registryCred struct {
	// Server is the registry host the credentials are for (normalized).
	Server                            string
	Username, Password, IdentityToken string
}

// dockerConfigEntry is an entry of a .dockerconfigjson "auths" map (and of
// a legacy .dockercfg document).
type dockerConfigEntry struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	Auth          string `json:"auth"`
	IdentityToken string `json:"identitytoken"`
}

// parsePullSecret reads the credentials of a kubernetes.io/dockerconfigjson
// or kubernetes.io/dockercfg secret; an error names what is wrong.
func parsePullSecret(s *corev1.Secret) ([]registryCred, error) {
	var auths map[string]dockerConfigEntry
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		var doc struct {
			Auths map[string]dockerConfigEntry `json:"auths"`
		}
		if err := json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &doc); err != nil {
			return nil, fmt.Errorf("secret %s: %s is not valid JSON: %w", s.Name, corev1.DockerConfigJsonKey, err)
		}
		auths = doc.Auths
	case corev1.SecretTypeDockercfg:
		if err := json.Unmarshal(s.Data[corev1.DockerConfigKey], &auths); err != nil {
			return nil, fmt.Errorf("secret %s: %s is not valid JSON: %w", s.Name, corev1.DockerConfigKey, err)
		}
	default:
		return nil, fmt.Errorf("secret %s has type %q, want %s", s.Name, s.Type, corev1.SecretTypeDockerConfigJson)
	}
	out := make([]registryCred, 0, len(auths))
	for server, e := range auths {
		c := registryCred{Server: normalizeRegistry(server), Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken}
		if e.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(e.Auth)
			if err != nil {
				return nil, fmt.Errorf("secret %s: the auth of %s is not base64: %w", s.Name, server, err)
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok {
				return nil, fmt.Errorf("secret %s: the auth of %s is not user:password", s.Name, server)
			}
			c.Username, c.Password = user, pass
		}
		out = append(out, c)
	}
	return out, nil
}

// dockerHub is the registry of images without a registry host.
const dockerHub = "docker.io"

// normalizeRegistry turns a docker config key ("https://index.docker.io/v1/",
// "http://localhost:5000", "registry.example.com/v2") into a host.
func normalizeRegistry(s string) string {
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil {
			s = u.Host
		}
	}
	s, _, _ = strings.Cut(s, "/")
	switch s = strings.ToLower(s); s {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return dockerHub
	}
	return s
}

// registryOf returns the registry host of an image reference: its first
// path component when that looks like a host (has a dot or a port, or is
// localhost), else Docker Hub.
func registryOf(image string) string {
	first, _, found := strings.Cut(image, "/")
	if !found || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		return dockerHub
	}
	return normalizeRegistry(first)
}

// credentialFor picks the credentials for image among creds: an exact host
// match first, then a wildcard one ("*.example.com"); nil when none.
func credentialFor(image string, creds []registryCred) *registryCred {
	reg := registryOf(image)
	for i := range creds {
		if creds[i].Server == reg {
			return &creds[i]
		}
	}
	for i := range creds {
		if strings.Contains(creds[i].Server, "*") {
			if ok, _ := path.Match(creds[i].Server, reg); ok {
				return &creds[i]
			}
		}
	}
	return nil
}
