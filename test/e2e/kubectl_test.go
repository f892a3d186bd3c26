package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	seedDir  = "../../examples/seed"
	repoRoot = "../.."
)

// TestSeedApplyGetScaleDelete is the seed's flow through the real kubectl.
func TestSeedApplyGetScaleDelete(t *testing.T) {
	c := startCluster(t)

	out := c.mustKubectl("apply", "-f", seedDir)
	expectMatch(t, "first apply", out,
		`deployment.apps/my-web-app-deployment created`, `service/my-web-app-service created`)
	out = c.mustKubectl("apply", "-f", seedDir)
	expectMatch(t, "second apply", out,
		`deployment.apps/my-web-app-deployment unchanged`, `service/my-web-app-service unchanged`)

	// Change replicas in a copy of the manifest and re-apply: a patch.
	dir := t.TempDir()
	seed, err := os.ReadFile(filepath.Join(seedDir, "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(seed), "replicas: 2", "replicas: 3", 1)
	if err := os.WriteFile(filepath.Join(dir, "deployment.yaml"), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	out = c.mustKubectl("apply", "-f", filepath.Join(dir, "deployment.yaml"))
	expectMatch(t, "apply changed replicas", out, `deployment.apps/my-web-app-deployment configured`)
	out = c.mustKubectl("get", "deployment", "my-web-app-deployment", "-o", "jsonpath={.spec.replicas} {.metadata.generation}")
	if strings.TrimSpace(out) != "3 2" {
		t.Errorf("after re-apply: replicas and generation %q, want \"3 2\"", out)
	}

	// Tables with the columns users know.
	expectMatch(t, "get deploy", c.mustKubectl("get", "deploy"),
		`NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE`, `my-web-app-deployment\s+0/3\s+\d\s+0\s+\d+s`)
	expectMatch(t, "get deploy -o wide", c.mustKubectl("get", "deploy", "-o", "wide"),
		`CONTAINERS\s+IMAGES\s+SELECTOR`, `my-web-app\s+my-web-app\s+app=my-web-app`)
	expectMatch(t, "get svc", c.mustKubectl("get", "svc"),
		`NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE`,
		`my-web-app-service\s+LoadBalancer\s+10\.43\.\d+\.\d+\s+<pending>\s+80:3\d{4}/TCP`)
	expectMatch(t, "get svc -o wide", c.mustKubectl("get", "svc", "-o", "wide"), `SELECTOR`, `app=my-web-app`)
	expectMatch(t, "get -o yaml", c.mustKubectl("get", "deploy", "my-web-app-deployment", "-o", "yaml"),
		`kind: Deployment`, `maxSurge: 25%`, `revisionHistoryLimit: 10`, `imagePullPolicy: Always`, `resourceVersion: "\d+"`, `uid: `)
	expectMatch(t, "get -A", c.mustKubectl("get", "deploy,svc", "-A"),
		`NAMESPACE\s+NAME`, `default\s+deployment.apps/my-web-app-deployment`, `default\s+service/my-web-app-service`)
	expectMatch(t, "get --show-labels", c.mustKubectl("get", "ns", "--show-labels"),
		`LABELS`, `kube-system\s+Active\s+\S+\s+kubernetes.io/metadata.name=kube-system`)
	expectMatch(t, "get ns", c.mustKubectl("get", "namespaces"),
		`default\s+Active`, `kube-system\s+Active`, `kube-node-lease\s+Active`)

	// describe works for each kind we created and for namespaces.
	expectMatch(t, "describe deploy", c.mustKubectl("describe", "deployment", "my-web-app-deployment"),
		`Name:\s+my-web-app-deployment`, `Replicas:\s+3 desired`, `StrategyType:\s+RollingUpdate`)
	expectMatch(t, "describe svc", c.mustKubectl("describe", "service", "my-web-app-service"),
		`Type:\s+LoadBalancer`, `Port:\s+<unset>\s+80/TCP`, `TargetPort:\s+3000/TCP`, `NodePort:`)
	expectMatch(t, "describe ns", c.mustKubectl("describe", "namespace", "default"), `Status:\s+Active`)

	// scale through the scale subresource.
	expectMatch(t, "scale", c.mustKubectl("scale", "deployment/my-web-app-deployment", "--replicas=5"),
		`deployment.apps/my-web-app-deployment scaled`)
	out = c.mustKubectl("get", "deployment", "my-web-app-deployment", "-o", "jsonpath={.spec.replicas}")
	if strings.TrimSpace(out) != "5" {
		t.Errorf("after scale: replicas %q, want 5", out)
	}

	// delete with the default --wait returns, and the objects are gone.
	done := make(chan string, 1)
	go func() {
		out, err := c.kubectl("delete", "-f", seedDir)
		if err != nil {
			out += "\nerror: " + err.Error()
		}
		done <- out
	}()
	select {
	case out = <-done:
		expectMatch(t, "delete", out, `deployment.apps "my-web-app-deployment" deleted`, `service "my-web-app-service" deleted`)
	case <-time.After(45 * time.Second):
		t.Fatal("kubectl delete did not return")
	}
	out, err = c.kubectl("get", "deployment", "my-web-app-deployment")
	if err == nil || !strings.Contains(out, "NotFound") && !strings.Contains(out, "not found") {
		t.Errorf("get after delete: err %v, output %q; want NotFound", err, out)
	}
}

// TestDryRunStoresNothing checks apply --dry-run=server.
func TestDryRunStoresNothing(t *testing.T) {
	c := startCluster(t)
	out := c.mustKubectl("apply", "--dry-run=server", "-f", seedDir)
	expectMatch(t, "dry run", out, `my-web-app-deployment created \(server dry run\)`, `my-web-app-service created \(server dry run\)`)
	out = c.mustKubectl("get", "deploy,svc", "-o", "name")
	if strings.Contains(out, "my-web-app") {
		t.Fatalf("dry run stored objects:\n%s", out)
	}
}

// TestAPIResourcesAndDiscovery checks kubectl api-resources and both
// discovery formats of /apis.
func TestAPIResourcesAndDiscovery(t *testing.T) {
	c := startCluster(t)
	expectMatch(t, "api-resources", c.mustKubectl("api-resources"),
		`deployments\s+deploy\s+apps/v1\s+true\s+Deployment`,
		`pods\s+po\s+v1\s+true\s+Pod`,
		`services\s+svc\s+v1\s+true\s+Service`,
		`namespaces\s+ns\s+v1\s+false\s+Namespace`,
		`horizontalpodautoscalers\s+hpa\s+autoscaling/v2\s+true\s+HorizontalPodAutoscaler`,
		`leases\s+coordination.k8s.io/v1\s+true\s+Lease`,
		`endpointslices\s+discovery.k8s.io/v1\s+true\s+EndpointSlice`,
		`jobs\s+batch/v1\s+true\s+Job`)

	hc, tok := c.httpClient()
	get := func(path, accept string) (string, string) {
		req, _ := http.NewRequest(http.MethodGet, c.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.Header.Get("Content-Type"), string(b)
	}
	ct, body := get("/apis", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")
	if ct != "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" || !strings.Contains(body, `"kind":"APIGroupDiscoveryList"`) {
		t.Errorf("aggregated /apis: content-type %q body %.200s", ct, body)
	}
	ct, body = get("/apis", "application/json")
	if !strings.HasPrefix(ct, "application/json") || strings.Contains(ct, "apidiscovery") || !strings.Contains(body, `"kind":"APIGroupList"`) {
		t.Errorf("legacy /apis: content-type %q body %.200s", ct, body)
	}
	// No token: 401.
	resp, err := hc.Get(c.url + "/api/v1/namespaces")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: status %d, want 401", resp.StatusCode)
	}
}

// TestGetWatch runs `kubectl get -w` and sees a change arrive.
func TestGetWatch(t *testing.T) {
	c := startCluster(t)
	c.mustKubectl("create", "configmap", "watched", "--from-literal=a=1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, berthBin, "kubectl", "--cache-dir", c.cacheDir, "get", "configmaps", "-w", "--output-watch-events")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	want := []string{`ADDED\s+watched`, `ADDED\s+second`, `MODIFIED\s+watched`, `DELETED\s+second`}
	actions := [][]string{
		{"create", "configmap", "second", "--from-literal=b=2"},
		{"label", "configmap", "watched", "x=y"},
		{"delete", "configmap", "second"},
	}
	var got []string
	for i, pattern := range want {
		if i > 0 {
			c.mustKubectl(actions[i-1]...)
		}
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("watch ended early; got %v", got)
				}
				got = append(got, l)
				if regexp.MustCompile(pattern).MatchString(l) {
					goto next
				}
			case <-ctx.Done():
				t.Fatalf("timed out waiting for %q; got %v", pattern, got)
			}
		}
	next:
	}
}

// TestBadInput checks that bad manifests get clear errors and store nothing.
func TestBadInput(t *testing.T) {
	c := startCluster(t)
	dir := t.TempDir()
	cases := []struct {
		name, manifest, want string
	}{
		{"unknown field", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad1\ndatta:\n  a: b\n", `unknown field "datta"`},
		{"invalid name", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n", `metadata.name: Invalid value: "Bad_Name"`},
		{"selector mismatch", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad3\nspec:\n  selector:\n    matchLabels: {app: a}\n  template:\n    metadata:\n      labels: {app: b}\n    spec:\n      containers: [{name: c, image: i}]\n",
			`spec.template.metadata.labels: Invalid value`},
		{"missing image", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad4\nspec:\n  containers: [{name: c}]\n", `spec.containers\[0\].image: Required value`},
		{"bad label", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad5\n  labels: {\"a b\": c}\n", `metadata.labels: Invalid value: "a b"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			if err := os.WriteFile(f, []byte(tc.manifest), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := c.kubectl("apply", "-f", f)
			if err == nil {
				t.Fatalf("apply succeeded:\n%s", out)
			}
			expectMatch(t, tc.name, out, tc.want)
		})
	}
	out := c.mustKubectl("get", "configmaps,deployments,pods", "-o", "name")
	if strings.Contains(out, "bad") {
		t.Fatalf("bad input stored something:\n%s", out)
	}

	// An immutable field: the Service's clusterIP.
	c.mustKubectl("create", "service", "clusterip", "imm", "--tcp=80:80")
	out, err := c.kubectl("patch", "service", "imm", "-p", `{"spec":{"clusterIP":"10.43.200.200"}}`)
	if err == nil {
		t.Fatalf("changing clusterIP succeeded: %s", out)
	}
	expectMatch(t, "immutable clusterIP", out, `spec.clusterIPs?(\[0\])?: Invalid value|field is immutable`)

	// Malformed JSON straight to the API.
	hc, tok := c.httpClient()
	req, _ := http.NewRequest(http.MethodPost, c.url+"/api/v1/namespaces/default/configmaps", strings.NewReader(`{"apiVersion":"v1","kind":"ConfigMap",`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Kind, Reason string
		Code         int
	}
	_ = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || st.Kind != "Status" || st.Reason != "BadRequest" {
		t.Errorf("malformed JSON: status %d %+v, want 400 BadRequest Status", resp.StatusCode, st)
	}
}
