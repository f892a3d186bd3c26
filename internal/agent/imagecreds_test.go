package agent

import (
	"encoding/base64"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRegistryOf(t *testing.T) {
	for image, want := range map[string]string{
		"nginx":                            "docker.io",
		"library/nginx:1.27":               "docker.io",
		"docker.io/library/nginx":          "docker.io",
		"index.docker.io/library/nginx":    "docker.io",
		"localhost/app":                    "localhost",
		"localhost:5000/app:v1":            "localhost:5000",
		"127.0.0.1:5000/team/app@sha256:1": "127.0.0.1:5000",
		"registry.example.com/team/app":    "registry.example.com",
		"my-web-app":                       "docker.io",
	} {
		if got := registryOf(image); got != want {
			t.Errorf("registryOf(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestParsePullSecretAndMatch(t *testing.T) {
	auth := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	secret := func(typ corev1.SecretType, key, body string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, Type: typ, Data: map[string][]byte{key: []byte(body)}}
	}
	tests := []struct {
		name, image string
		secret      *corev1.Secret
		wantUser    string // "" means no credentials match
		wantErr     string
	}{
		{name: "dockerconfigjson auth", image: "localhost:5000/app", wantUser: "alice",
			secret: secret(corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey, `{"auths":{"http://localhost:5000":{"auth":"`+auth+`"}}}`)},
		{name: "username and password", image: "registry.example.com/app", wantUser: "bob",
			secret: secret(corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey, `{"auths":{"registry.example.com":{"username":"bob","password":"pw"}}}`)},
		{name: "docker hub key", image: "nginx", wantUser: "alice",
			secret: secret(corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey, `{"auths":{"https://index.docker.io/v1/":{"auth":"`+auth+`"}}}`)},
		{name: "wildcard", image: "eu.example.com/app", wantUser: "alice",
			secret: secret(corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey, `{"auths":{"*.example.com":{"auth":"`+auth+`"}}}`)},
		{name: "other registry", image: "localhost:5001/app",
			secret: secret(corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey, `{"auths":{"localhost:5000":{"auth":"`+auth+`"}}}`)},
		{name: "legacy dockercfg", image: "localhost:5000/app", wantUser: "alice",
			secret: secret(corev1.SecretTypeDockercfg, corev1.DockerConfigKey, `{"localhost:5000":{"auth":"`+auth+`"}}`)},
		{name: "bad JSON", image: "x", wantErr: "not valid JSON",
			secret: secret(corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey, `{`)},
		{name: "bad auth", image: "x", wantErr: "not base64",
			secret: secret(corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey, `{"auths":{"r.io":{"auth":"%%%"}}}`)},
		{name: "wrong type", image: "x", wantErr: "has type",
			secret: secret(corev1.SecretTypeOpaque, "k", "v")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			creds, err := parsePullSecret(tc.secret)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := credentialFor(tc.image, creds)
			switch {
			case tc.wantUser == "" && c != nil:
				t.Fatalf("credentials %+v for %s, want none", c, tc.image)
			case tc.wantUser != "" && (c == nil || c.Username != tc.wantUser):
				t.Fatalf("credentials %+v for %s, want user %s", c, tc.image, tc.wantUser)
			}
		})
	}
}
