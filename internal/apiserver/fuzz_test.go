package apiserver

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/berth-dev/berth/internal/apiserver/registry"
)

var fuzzSeeds = []string{
	`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i","ports":[{"containerPort":80}],"resources":{"limits":{"cpu":"1"}}}]}}`,
	`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"i"}]}},"strategy":{"rollingUpdate":{"maxSurge":"50%"}}}}`,
	`{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"type":"LoadBalancer","selector":{"app":"x"},"ports":[{"port":80,"targetPort":"web"}]}}`,
	`{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"i"}]}}}}`,
	`{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"h"},"spec":{"scaleTargetRef":{"kind":"Deployment","name":"d"},"maxReplicas":3,"metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":50}}}]}}`,
	`{"metadata":{"name":"x","finalizers":["a/b"],"ownerReferences":[{"apiVersion":"v1","kind":"X","name":"y","uid":"1"}]}}`,
	`{"spec":{"containers":[{"$patch":"delete","name":"c"}]},"metadata":{"$setElementOrder/labels":[]}}`,
	`[{"op":"replace","path":"/spec/replicas","value":3}]`,
}

// FuzzDecodeValidatePrint feeds arbitrary bodies through the request path's
// pure parts for every resource: decoding (strict), defaulting, validation,
// table printing, field sets and the three patch types. None may panic.
func FuzzDecodeValidatePrint(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(uint8(i), []byte(s))
	}
	resources := registry.All()
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		res := resources[int(which)%len(resources)]
		obj := res.New()
		if err := decodeInto(httptest.NewRecorder(), data, obj, "Strict"); err == nil {
			st := res.Strategy
			if st.PrepareForCreate != nil {
				st.PrepareForCreate(obj)
			}
			if st.Default != nil {
				st.Default(obj)
			}
			if st.Validate != nil {
				st.Validate(obj)
			}
			if st.ValidateUpdate != nil {
				st.ValidateUpdate(obj.DeepCopyObject(), obj)
			}
			if st.Table != nil {
				st.Table.Row(obj)
			}
			res.Fields(obj)
			if res.ToStorage != nil {
				res.FromStorage(res.ToStorage(obj))
			}
		}
		doc, _ := json.Marshal(res.New())
		for _, ct := range []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"} {
			_, _ = applyPatch(ct, doc, data, res.New())
		}
		_, _ = protobufToJSON(data)
	})
}
