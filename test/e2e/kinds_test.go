package e2e

import "testing"

// TestEveryKindAppliesAndDescribes applies one object of each served kind
// and checks get and describe for each with the real kubectl.
func TestEveryKindAppliesAndDescribes(t *testing.T) {
	c := startCluster(t)
	c.mustKubectl("apply", "-f", "testdata/kinds.yaml")
	cases := []struct {
		ref     string
		get     []string
		describ []string
	}{
		{"configmap/cfg", []string{`NAME\s+DATA\s+AGE`, `cfg\s+1`}, []string{`Name:\s+cfg`, `a:`}},
		{"secret/sec", []string{`NAME\s+TYPE\s+DATA`, `sec\s+Opaque\s+1`}, []string{`password:\s+7 bytes`}},
		{"pod/pod1", []string{`NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE`, `pod1\s+0/1\s+Pending\s+0`}, []string{`Image:\s+busybox:1.36`, `Status:\s+Pending`}},
		{"replicaset/rs1", []string{`NAME\s+DESIRED\s+CURRENT\s+READY`, `rs1\s+1\s+[01]\s+0`}, []string{`Replicas:\s+[01] current / 1 desired`}},
		{"job/job1", []string{`NAME\s+STATUS\s+COMPLETIONS`, `job1\s+\S+\s+0/1`}, []string{`Completions:\s+1`, `Parallelism:\s+1`}},
		{"hpa/hpa1", []string{`NAME\s+REFERENCE\s+TARGETS\s+MINPODS\s+MAXPODS\s+REPLICAS`, `hpa1\s+Deployment/web\s+cpu: <unknown>/70%\s+1\s+4`}, []string{`Reference:\s+Deployment/web`, `Min replicas:\s+1`}},
		{"node/node1", []string{`NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION`, `node1\s+(Unknown|NotReady)`}, []string{`Name:\s+node1`, `Labels:\s+kubernetes.io/hostname=node1`}},
		{"lease/lease1", []string{`NAME\s+HOLDER\s+AGE`, `lease1\s+me`}, []string{`Holder Identity:\s+me`}},
		{"priorityclass/high", []string{`NAME\s+VALUE`, `high\s+1000`}, []string{`Value:\s+1000`}},
		{"endpointslice/web-abc", []string{`NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS`, `web-abc\s+IPv4\s+80\s+10.42.0.5`}, []string{`AddressType:\s+IPv4`}},
		{"namespace/kube-node-lease", []string{`kube-node-lease\s+Active`}, []string{`Status:\s+Active`}},
	}
	for _, tc := range cases {
		t.Run(tc.ref, func(t *testing.T) {
			expectMatch(t, "get "+tc.ref, c.mustKubectl("get", tc.ref), tc.get...)
			expectMatch(t, "describe "+tc.ref, c.mustKubectl("describe", tc.ref), tc.describ...)
		})
	}
	// kubectl autoscale creates an HPA through autoscaling/v2.
	c.mustKubectl("create", "deployment", "auto", "--image=busybox:1.36")
	expectMatch(t, "autoscale", c.mustKubectl("autoscale", "deployment", "auto", "--min=2", "--max=5", "--cpu-percent=60"),
		`horizontalpodautoscaler.autoscaling/auto autoscaled`)
	expectMatch(t, "get hpa", c.mustKubectl("get", "hpa", "auto"), `auto\s+Deployment/auto\s+cpu: <unknown>/60%\s+2\s+5`)
}
